package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/secret"
	"github.com/velocity-ci/velocity/internal/store"
)

// Scripts rely on the exit codes: 2 for a mistake in what was asked, 1
// for anything that failed, whatever kind of failure it was.
func TestExitCodeOfEachKind(t *testing.T) {
	for _, c := range []struct {
		err     error
		started bool
		code    int
	}{
		{nil, true, ExitOK},
		{usageError("%q is not a run number", "x"), true, ExitUsage},
		{fault.Invalidf("bad --port-range"), true, ExitUsage},
		{fmt.Errorf("workflow: %w", fault.Invalidf("bad input")), true, ExitUsage},
		{fmt.Errorf("run 7: %w", store.ErrNotFound), true, ExitFailed},
		{fmt.Errorf("secret X: %w", secret.ErrNotFound), true, ExitFailed},
		{fault.Conflictf("release r1 already serves"), true, ExitFailed},
		{fault.Unauthorisedf("no token"), true, ExitFailed},
		{fault.Forbiddenf("viewers cannot deploy"), true, ExitFailed},
		{fault.Unavailablef("no server"), true, ExitFailed},
		{errors.New("disk full"), true, ExitFailed},
		// cobra's own errors come before any command started.
		{errors.New(`unknown command "rnu"`), false, ExitUsage},
		{&exitError{code: ExitInterrupted}, true, ExitInterrupted},
		{&exitError{code: ExitFailed}, true, ExitFailed},
		{&exitError{code: ExitUsage}, true, ExitUsage},
		// An explicit code wins over a kind.
		{&exitError{code: ExitFailed, err: fault.Invalidf("x")}, true, ExitFailed},
	} {
		if got := exitCode(c.err, c.started); got != c.code {
			t.Errorf("exitCode(%v, started=%v) = %d, want %d", c.err, c.started, got, c.code)
		}
	}
}

func TestMainPrintsUsageMistakesAndExits2(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want []string
		not  string
	}{
		{[]string{"--data-dir", t.TempDir(), "logs", "abc"}, ExitUsage,
			[]string{`velocity: "abc" is not a run number (see 'velocity runs')`}, "--help"},
		{[]string{"--data-dir", t.TempDir(), "rnu"}, ExitUsage,
			[]string{`velocity: unknown command "rnu"`, "Run 'velocity --help' for usage."}, ""},
	} {
		var out, errOut strings.Builder
		code := Main(context.Background(), testOptions(), c.args, strings.NewReader(""), &out, &errOut)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, c.code, errOut.String())
		}
		for _, w := range c.want {
			if !strings.Contains(errOut.String(), w) {
				t.Errorf("%v: stderr %q lacks %q", c.args, errOut.String(), w)
			}
		}
		if c.not != "" && strings.Contains(errOut.String(), c.not) {
			t.Errorf("%v: stderr %q has %q", c.args, errOut.String(), c.not)
		}
	}
}
