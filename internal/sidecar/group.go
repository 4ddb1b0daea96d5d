// Package sidecar runs the helper programs an action talks to (a database,
// a cache server): started before the action's commands, each on a port of
// its own, and stopped afterwards whatever the outcome.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/spec"
)

// Runner runs the sidecars' scripts and readiness checks as steps: the
// executor.Workspace of the run the sidecars serve, so that they share
// its network and files. Run is called from several goroutines at once.
type Runner interface {
	Run(ctx context.Context, step executor.Step) (executor.Result, error)
}

// Options says how sidecars are run.
type Options struct {
	// Executor runs the sidecars' scripts and their readiness checks.
	Executor Runner
	// Env is the base environment ("KEY=value") of every sidecar and its
	// readiness check; nothing else is inherited.
	Env []string
	// Dir is the parent of the sidecars' directories: each gets a new empty
	// subdirectory. Empty means the system's temporary directory.
	Dir string
	// Log receives the sidecars' output, one "[sidecar NAME] " prefixed
	// line per Write. It need not be safe for concurrent use: writes are
	// serialised. Nil discards the output.
	Log io.Writer
	// KillGrace is how long a sidecar has to exit after SIGTERM before it is
	// killed; zero means the executor's default.
	KillGrace time.Duration
	// Ports hands out the sidecars' ports, shared with whatever else in
	// the process picks ports (deployed instances) so that the two never
	// pick the same one; nil picks with a Picker of the group's own.
	Ports *netport.Picker
	// PortRange bounds the sidecars' ports (--port-range, port_range in
	// velocity.yml); zero means any free port.
	PortRange netport.Range
	// InContainer says that the action runs in a container on the run's
	// network: it reaches a sidecar with an image by the sidecar's name
	// (NAME_HOST=name) rather than by the container's address.
	InContainer bool
	// Action is the Step.Name of the action the sidecars serve, for
	// which a sidecar with an image resolves by its name.
	Action string
}

// errSiblingFailed cancels the readiness waits of the other sidecars when
// one fails, so that only the real failure is reported.
var errSiblingFailed = errors.New("another sidecar failed")

// Group is a set of running sidecars. Stop it when the action is done.
type Group struct {
	procs       []*process
	inContainer bool
	// release hands the sidecars' ports back once they are stopped.
	release func()

	stopOnce sync.Once
	stopErr  error
}

// Start starts every sidecar concurrently and returns once all of them are
// ready. ctx bounds only the start: the sidecars run until Stop, so that a
// caller's clean-up still finds them in a known state. On failure the
// sidecars already started are stopped and the error (a *StartError per
// failed sidecar, joined) says which one failed, why, and what it printed.
func Start(ctx context.Context, sidecars []spec.Sidecar, opt Options) (*Group, error) {
	if opt.Executor == nil {
		return nil, errors.New("sidecars: no executor")
	}
	if err := checkNames(sidecars); err != nil {
		return nil, err
	}
	g := &Group{inContainer: opt.InContainer}
	if len(sidecars) == 0 {
		return g, nil
	}
	picker := opt.Ports
	if picker == nil {
		picker = &netport.Picker{}
	}
	// Only host sidecars need a free port of the host; a container
	// listens on its own address.
	onHost := 0
	for _, sc := range sidecars {
		if sc.Image == "" {
			onHost++
		}
	}
	picked, err := picker.Pick(opt.PortRange, onHost)
	if err != nil {
		return nil, fmt.Errorf("sidecars: %w", err)
	}
	g.release = func() { picker.Release(picked...) }
	ports := make([]int, len(sidecars))
	next := picked
	for i, sc := range sidecars {
		if sc.Image == "" {
			ports[i], next = next[0], next[1:]
		}
	}

	log := &lockedWriter{w: opt.Log}
	runCtx := context.WithoutCancel(ctx)
	startCtx, cancelStart := context.WithCancelCause(ctx)
	defer cancelStart(nil)

	g.procs = make([]*process, len(sidecars))
	errs := make([]error, len(sidecars))
	var wg sync.WaitGroup
	for i, sc := range sidecars {
		wg.Go(func() {
			p, err := launch(runCtx, sc, ports[i], opt, log)
			if err == nil {
				g.procs[i] = p
				err = p.waitReady(startCtx)
			}
			if err != nil {
				errs[i] = err
				cancelStart(errSiblingFailed)
			}
		})
	}
	wg.Wait()

	var failed []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, errSiblingFailed) {
			failed = append(failed, err)
		}
	}
	if ctx.Err() != nil {
		// Every sidecar would report the same interruption; once is enough.
		failed = []error{fmt.Errorf("sidecars: start interrupted: %w", context.Cause(ctx))}
	}
	if len(failed) == 0 {
		return g, nil
	}
	if err := g.Stop(); err != nil {
		failed = append(failed, err)
	}
	return nil, errors.Join(failed...)
}

// Env returns the variables that tell the action where each sidecar
// listens: NAME_HOST, NAME_PORT and NAME_ADDR, NAME being the sidecar's
// name upper-cased with every other character than letters and digits
// turned into "_".
func (g *Group) Env() []string {
	var env []string
	for _, p := range g.procs {
		port := strconv.Itoa(p.port)
		prefix := envName(p.name)
		h := p.hostFor(g.inContainer)
		env = append(env,
			prefix+"_HOST="+h,
			prefix+"_PORT="+port,
			prefix+"_ADDR="+net.JoinHostPort(h, port),
		)
	}
	return env
}

// Stop stops every sidecar (SIGTERM, then SIGKILL after the grace period),
// waits until their processes are gone and removes their directories. It
// may be called more than once; later calls return the first call's error.
func (g *Group) Stop() error {
	g.stopOnce.Do(func() {
		errs := make([]error, len(g.procs))
		var wg sync.WaitGroup
		for i, p := range g.procs {
			if p == nil {
				continue
			}
			// Concurrently, so that stopping takes one grace period, not one
			// per sidecar.
			wg.Go(func() { errs[i] = p.stop() })
		}
		wg.Wait()
		g.stopErr = errors.Join(errs...)
		if g.release != nil {
			g.release()
		}
	})
	return g.stopErr
}

// checkNames rejects names that would export the same variables, since
// the action could then reach only one of the sidecars.
func checkNames(sidecars []spec.Sidecar) error {
	seen := make(map[string]string, len(sidecars))
	for _, sc := range sidecars {
		if sc.Name == "" {
			return errors.New("sidecars: a sidecar has no name")
		}
		key := envName(sc.Name)
		if other, ok := seen[key]; ok {
			return fmt.Errorf("sidecars %q and %q would both export %s_PORT", other, sc.Name, key)
		}
		seen[key] = sc.Name
	}
	return nil
}
