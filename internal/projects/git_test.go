package projects

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/velocity-ci/velocity/internal/proc"
)

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
