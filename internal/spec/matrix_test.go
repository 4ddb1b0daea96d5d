package spec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestMatrixListsAreBounded: every include and exclude entry is compared
// with every cell, so a 1 MiB file of entries took 2.7 s of CPU to
// validate; past MaxMatrixCells entries the list is refused at once.
func TestMatrixListsAreBounded(t *testing.T) {
	for _, key := range []string{"include", "exclude"} {
		var b strings.Builder
		b.WriteString("stages:\n  - name: s\n    actions:\n      - name: a\n        run: x\n        matrix:\n          a: [1, 2]\n")
		fmt.Fprintf(&b, "          %s:\n", key)
		for i := range MaxMatrixCells + 1 {
			fmt.Fprintf(&b, "            - {a: %d}\n", i)
		}
		_, err := Parse(FileName, []byte(b.String()))
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("%s: err = %v", key, err)
		}
		want := fmt.Sprintf(`velocity.yml:265:15: stages[0].actions[0].matrix.%s: lists more than 256 entries (limit "max matrix cells" is 256)`, key)
		if errs[0].Error() != want {
			t.Errorf("%s: first error\n %s\nwant\n %s", key, errs[0], want)
		}
	}
}
