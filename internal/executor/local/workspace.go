package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/velocity-ci/velocity/internal/executor"
)

var _ executor.Executor = (*Executor)(nil)

// Capabilities implements executor.Executor: steps run on the host as
// they are, so there is no image, and limits are not enforced.
func (e *Executor) Capabilities() executor.Capabilities { return executor.Capabilities{} }

// Prepare implements executor.Executor. Host processes share nothing but
// the directories, so preparing only checks that they exist.
func (e *Executor) Prepare(ctx context.Context, run executor.Run) (executor.Workspace, error) {
	for _, dir := range []string{run.Dir, run.Scratch} {
		if dir == "" {
			continue
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("prepare run %s: %w", run.ID, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("prepare run %s: %s is not a directory", run.ID, dir)
		}
	}
	return &workspace{e: e}, nil
}

// workspace is a prepared run: the executor plus the cleaned-up flag
// that makes a late Run an error rather than a process nobody waits for.
type workspace struct {
	e       *Executor
	mu      sync.Mutex
	cleaned bool
}

func (w *workspace) Run(ctx context.Context, step executor.Step) (executor.Result, error) {
	w.mu.Lock()
	cleaned := w.cleaned
	w.mu.Unlock()
	if cleaned {
		return executor.Result{}, fmt.Errorf("%s: run after the workspace was cleaned up", step.Name)
	}
	return w.e.Run(ctx, step)
}

// Cleanup has nothing to release: every step's processes are gone when
// its Run returns.
func (w *workspace) Cleanup(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cleaned = true
	return nil
}

// Run runs one step outside any prepared run (a workspace's Run does the
// same): it refuses what a host cannot honour, places FilesIn, runs the
// script or command, then copies FilesOut.
func (e *Executor) Run(ctx context.Context, step executor.Step) (executor.Result, error) {
	if err := e.check(step); err != nil {
		return executor.Result{}, err
	}
	if step.Command != nil {
		step.Script = commandScript(step.Command)
	}
	if err := executor.PlaceFilesIn(step); err != nil {
		return executor.Result{}, err
	}
	res, err := e.run(ctx, step)
	if err != nil {
		return res, err
	}
	if err := executor.CollectFilesOut(step, &res); err != nil {
		return res, err
	}
	return res, nil
}

// check refuses a step the host cannot run as asked: running it anyway
// would give a result the user did not ask for.
func (e *Executor) check(step executor.Step) error {
	switch {
	case step.Image != "":
		return fmt.Errorf("%s: image %q: the local executor runs steps on the host and cannot use an image: %w", step.Name, step.Image, executor.ErrUnsupported)
	case step.User != "":
		return fmt.Errorf("%s: user %q: the local executor runs steps as Velocity's own user: %w", step.Name, step.User, executor.ErrUnsupported)
	case !step.Limits.IsZero():
		return fmt.Errorf("%s: resource limits: the local executor does not enforce them: %w", step.Name, executor.ErrUnsupported)
	case step.Script != "" && step.Command != nil:
		return fmt.Errorf("%s: both a script and a command", step.Name)
	case step.Command != nil && (step.Command[0] == "" || strings.HasPrefix(step.Command[0], "-")):
		return fmt.Errorf("%s: command %q is not a program name", step.Name, step.Command[0])
	}
	for _, f := range append(step.FilesIn[:len(step.FilesIn):len(step.FilesIn)], step.FilesOut...) {
		if !filepath.IsLocal(f.Path) {
			return fmt.Errorf("%s: file %q is not inside the working directory", step.Name, f.Path)
		}
	}
	return nil
}

// commandScript runs argv through the shell with every word single-quoted,
// so the shell looks the program up in the step's PATH (exit 127 when it
// is missing) and expands nothing. exec makes the program the group
// leader's process, as if started directly.
func commandScript(argv []string) string {
	var b strings.Builder
	b.WriteString("exec")
	for _, a := range argv {
		b.WriteString(" '")
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteString("'")
	}
	return b.String()
}
