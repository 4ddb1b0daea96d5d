package fault_test

import (
	"errors"
	"fmt"

	"github.com/velocity-ci/velocity/internal/fault"
)

// A lower layer says what kind of failure it met; an adapter maps the kind
// once, here to an HTTP status.
func Example() {
	lookup := func(id int) error { return fault.NotFoundf("run %d", id) }
	status := func(err error) int {
		switch fault.KindOf(err) {
		case fault.Invalid:
			return 400
		case fault.NotFound:
			return 404
		}
		return 500
	}

	err := fmt.Errorf("show: %w", lookup(7))
	fmt.Println(err, errors.Is(err, fault.NotFound), status(err))
	fmt.Println(status(errors.New("disk full")))
	// Output:
	// show: run 7 true 404
	// 500
}
