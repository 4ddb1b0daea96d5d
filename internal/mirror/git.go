package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/velocity-ci/velocity/internal/proc"
)

// git runs git commands in one directory.
type git struct {
	dir string
	env []string
}

func newGit(dir string) git {
	return git{dir: dir, env: Env(os.Environ())}
}

// Env derives the environment of git commands that reach other
// repositories from environ, for every process that runs git against a
// mirror (the git remote's http-backend too).
//
// Variables that pin git to another repository are dropped: started from
// a git hook, velocity inherits them. GIT_ALLOW_PROTOCOL limits the
// transports to those that only move data: a repository URL such as
// "ext::sh -c …" would otherwise run a command on the server.
// GIT_TERMINAL_PROMPT=0 and ssh's BatchMode make a repository that wants
// credentials fail at once instead of waiting for a person who is not
// there. LC_ALL=C keeps git's messages in one language for the logs.
func Env(environ []string) []string {
	drop := map[string]bool{
		"GIT_DIR": true, "GIT_WORK_TREE": true, "GIT_INDEX_FILE": true,
		"GIT_PREFIX": true, "GIT_COMMON_DIR": true, "GIT_OBJECT_DIRECTORY": true,
		"GIT_ALTERNATE_OBJECT_DIRECTORIES": true, "GIT_NAMESPACE": true,
		"GIT_CONFIG_PARAMETERS": true, "GIT_CONFIG_COUNT": true,
		"GIT_ALLOW_PROTOCOL": true, "GIT_TERMINAL_PROMPT": true, "LC_ALL": true,
		"GIT_PROTOCOL_FROM_USER": true,
	}
	env := make([]string, 0, len(environ)+5)
	ssh := false
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if name == "GIT_SSH_COMMAND" || name == "GIT_SSH" {
			ssh = true
		}
		if !drop[name] {
			env = append(env, kv)
		}
	}
	env = append(env, "GIT_ALLOW_PROTOCOL=file:git:http:https:ssh", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	if !ssh {
		env = append(env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	return env
}

func (g git) spec(args ...string) proc.Spec {
	return proc.Spec{
		Path:  "git",
		Args:  append([]string{"-c", "core.quotepath=off"}, args...),
		Dir:   g.dir,
		Env:   g.env,
		Group: true, // a transport's helpers (ssh, curl) die with git
	}
}

// run runs git with stdin as its input and returns its stdout; a failure
// carries what git printed.
func (g git) run(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	var stdout bytes.Buffer
	var stderr proc.Head
	s := g.spec(args...)
	s.Stdout, s.Stderr = &stdout, &stderr
	if stdin != "" {
		s.Stdin = strings.NewReader(stdin)
	}
	p, err := proc.Start(ctx, s)
	if err == nil {
		var exit proc.Exit
		exit, err = p.Wait()
		if err == nil {
			err = exit.Err()
		}
	}
	if err != nil {
		return stdout.Bytes(), g.fail(ctx, args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

func (g git) output(ctx context.Context, args ...string) ([]byte, error) {
	return g.run(ctx, "", args...)
}

func (g git) fail(ctx context.Context, args []string, err error, stderr string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("git %s: %w", strings.Join(args, " "), context.Cause(ctx))
	}
	var ee *proc.ExitError
	if !errors.As(err, &ee) && errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("git is not installed or not in PATH: %w", err)
	}
	return &gitError{args: args, stderr: strings.TrimSpace(stderr), err: err}
}

// gitError is a git command that failed: the command and git's own
// message, which says what was wrong with a repository or a ref.
type gitError struct {
	args   []string
	stderr string
	err    error
}

// Error is git's message when it printed one, which names what it
// failed on; the whole command and its status otherwise.
func (e *gitError) Error() string {
	if e.stderr != "" {
		return "git " + e.args[0] + ": " + hideUserInfo(e.stderr, e.args)
	}
	args := make([]string, len(e.args))
	for i, a := range e.args {
		args[i] = Redact(a)
	}
	return fmt.Sprintf("git %s: %v", strings.Join(args, " "), e.err)
}

func (e *gitError) Unwrap() error { return e.err }

// hideUserInfo hides in msg the user information of every URL among
// args: git quotes the URL it failed on, token included.
func hideUserInfo(msg string, args []string) string {
	for _, a := range args {
		u, err := url.Parse(a)
		if err != nil || u.User == nil {
			continue
		}
		if info := u.User.String(); info != "" {
			msg = strings.ReplaceAll(msg, info+"@", "xxxxx@")
		}
	}
	return msg
}
