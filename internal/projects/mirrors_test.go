package projects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/proc"
)

// gitMirrors is a small Mirrors on real git for the tests: bare mirrors
// under dir, every git command through internal/proc.
type gitMirrors struct{ dir string }

var _ Mirrors = gitMirrors{}

func (m gitMirrors) Path(name string) string { return filepath.Join(m.dir, name+".git") }

// git runs git in dir and returns its trimmed stdout; a failure carries
// its exit code and stderr.
func gitRun(ctx context.Context, dir string, args ...string) (string, int, error) {
	var stdout, stderr bytes.Buffer
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_TERMINAL_PROMPT=0")
	p, err := proc.Start(ctx, proc.Spec{Path: "git", Args: args, Dir: dir, Env: env, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return "", -1, err
	}
	exit, err := p.Wait()
	if err == nil {
		err = exit.Err()
	}
	if err != nil {
		return "", exit.Code, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), 0, nil
}

func (m gitMirrors) Create(ctx context.Context, name, repo string) error {
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(m.Path(name)); err == nil {
		return fault.Conflictf("mirror %s exists", name)
	}
	var err error
	if repo == "" {
		_, _, err = gitRun(ctx, m.dir, "init", "-q", "--bare", m.Path(name))
	} else {
		_, _, err = gitRun(ctx, m.dir, "clone", "-q", "--mirror", "--", repo, m.Path(name))
	}
	if err != nil {
		os.RemoveAll(m.Path(name))
		return fault.Invalidf("mirror of %q: %v", repo, err)
	}
	return nil
}

func (m gitMirrors) Fetch(ctx context.Context, name string) error {
	if url, _, _ := gitRun(ctx, m.Path(name), "config", "remote.origin.url"); url == "" {
		return nil
	}
	_, _, err := gitRun(ctx, m.Path(name), "fetch", "-q", "--prune", "origin")
	return err
}

func (m gitMirrors) Resolve(ctx context.Context, name, ref string) (string, error) {
	out, code, err := gitRun(ctx, m.Path(name), "rev-parse", "-q", "--verify", "--end-of-options", ref+"^{commit}")
	if code == 1 {
		return "", fault.NotFoundf("no commit %q in project %s", ref, name)
	}
	return out, err
}

func (m gitMirrors) Heads(ctx context.Context, name string) (map[string]string, error) {
	out, _, err := gitRun(ctx, m.Path(name), "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")
	if err != nil {
		return nil, err
	}
	heads := map[string]string{}
	for line := range strings.Lines(out) {
		ref, id, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok {
			heads[ref] = id
		}
	}
	return heads, nil
}

func (m gitMirrors) Remove(name string) error {
	err := os.RemoveAll(m.Path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
