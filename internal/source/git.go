package source

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/velocity-ci/velocity/internal/proc"
)

// git runs read-only git commands in one directory.
type git struct {
	dir string
	env []string
	// path is git's executable as found in PATH, "" to look it up at
	// each command (a stat per PATH entry).
	path string
}

func newGit(dir string) git {
	return git{dir: dir, env: gitEnv(os.Environ())}
}

// in returns a runner for another directory with the same environment.
func (g git) in(dir string) git {
	return git{dir: dir, env: g.env, path: g.path}
}

// gitEnv derives git's environment from ours.
//
// Variables that pin git to a particular repository are dropped: when
// velocity is started from a git hook they point at the hook's repository
// (sometimes as a relative path), and git must instead discover the
// repository from the project directory it runs in.
//
// GIT_OPTIONAL_LOCKS=0 stops `git status` from writing a refreshed index
// into the user's repository. LC_ALL=C makes git's messages predictable
// enough to tell "not a repository" from real failures; it has no effect on
// the file names we read, which are raw bytes thanks to -z.
func gitEnv(environ []string) []string {
	drop := map[string]bool{
		"GIT_DIR": true, "GIT_WORK_TREE": true, "GIT_INDEX_FILE": true,
		"GIT_PREFIX": true, "GIT_COMMON_DIR": true,
		"GIT_OPTIONAL_LOCKS": true, "LC_ALL": true,
	}
	env := make([]string, 0, len(environ)+2)
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			env = append(env, kv)
		}
	}
	return append(env, "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C")
}

// spec describes a git command in g's directory and environment.
func (g git) spec(args ...string) proc.Spec {
	// core.quotepath=off keeps non-ASCII names as raw bytes in any output
	// that is not -z.
	return proc.Spec{
		Path: cmp.Or(g.path, "git"),
		Args: append([]string{"-c", "core.quotepath=off"}, args...),
		Dir:  g.dir,
		Env:  g.env,
	}
}

// run runs git and waits for it; ctx ending kills it. The error is
// *proc.ExitError for an unsuccessful exit.
func (g git) run(ctx context.Context, s proc.Spec) error {
	p, err := proc.Start(ctx, s)
	if err != nil {
		return err
	}
	exit, err := p.Wait()
	if err != nil {
		return err
	}
	return exit.Err()
}

// output runs git and returns its stdout. A failure carries git's stderr.
func (g git) output(ctx context.Context, args ...string) ([]byte, error) {
	var stdout bytes.Buffer
	var stderr proc.Head
	s := g.spec(args...)
	s.Stdout, s.Stderr = &stdout, &stderr
	if err := g.run(ctx, s); err != nil {
		return stdout.Bytes(), g.fail(ctx, args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// fail turns a failed git command into an error naming the command, its
// directory and what git printed.
func (g git) fail(ctx context.Context, args []string, err error, stderr string) error {
	if ctx.Err() != nil {
		// Killed because the run was cancelled: say that, not "signal: killed".
		return fmt.Errorf("git %s: %w", strings.Join(args, " "), context.Cause(ctx))
	}
	var ee *proc.ExitError
	if !errors.As(err, &ee) && errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("git is not installed or not in PATH: %w", err)
	}
	return &gitError{args: args, dir: g.dir, stderr: strings.TrimSpace(stderr), err: err}
}

type gitError struct {
	args   []string
	dir    string
	stderr string
	err    error
}

func (e *gitError) Error() string {
	msg := fmt.Sprintf("git %s (in %s): %v", strings.Join(e.args, " "), e.dir, e.err)
	if e.stderr != "" {
		msg += ": " + e.stderr
	}
	return msg
}

func (e *gitError) Unwrap() error { return e.err }

// splitNUL splits -z output into its records.
func splitNUL(out []byte) []string {
	s := strings.TrimSuffix(string(out), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}
