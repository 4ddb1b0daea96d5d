package proc_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/velocity-ci/velocity/internal/proc"
)

// A script in a process group of its own, its output on one stream, the
// whole tree stopped (SIGTERM, then SIGKILL after 5s) if ctx ends.
func ExampleStart() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := proc.Start(ctx, proc.Spec{
		Path:      "sh",
		Args:      []string{"-c", `echo out; echo err >&2; sleep 100 & exit 3`},
		Env:       []string{"PATH=/usr/bin:/bin"},
		Stdout:    os.Stdout,
		Stderr:    os.Stdout,
		Group:     true,
		KillGrace: 5 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Wait returns once the background sleep is killed too.
	exit, err := p.Wait()
	fmt.Println(exit, err)
	// Output:
	// out
	// err
	// exit status 3 <nil>
}
