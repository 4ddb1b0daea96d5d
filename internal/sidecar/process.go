package sidecar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/spec"
)

// process is one running sidecar.
type process struct {
	name string
	spec spec.Sidecar
	port int
	dir  string
	env  []string
	out  *output
	exec Runner

	// cancel ends the executor's Run, which sends SIGTERM, then SIGKILL.
	cancel context.CancelFunc
	// done is closed once Run has returned: every process of the sidecar
	// is gone and its output delivered. res and runErr are set before.
	done   chan struct{}
	res    executor.Result
	runErr error
	// ready is set once the sidecar passed its check; only then does Stop
	// report runErr, which a failed start has already reported.
	ready bool

	// For a sidecar with an image: where it runs, closed started once
	// its container does, and then its container's ID and address.
	containers Containers
	started    chan struct{}
	cid, ip    string
}

// launch creates the sidecar's directory and starts its script in the
// background.
func launch(ctx context.Context, sc spec.Sidecar, port int, opt Options, log *lockedWriter) (*process, error) {
	dir, err := os.MkdirTemp(opt.Dir, "sidecar-"+dirName(sc.Name)+"-")
	if err != nil {
		return nil, &StartError{Sidecar: sc.Name, Err: fmt.Errorf("create its directory: %w", err)}
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &process{
		name:   sc.Name,
		spec:   sc,
		port:   port,
		dir:    dir,
		env:    sidecarEnv(opt.Env, sc.Env, port, dir),
		out:    newOutput("[sidecar "+sc.Name+"] ", log, tailLines),
		exec:   opt.Executor,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	if sc.Image != "" {
		p.port = sc.Port
		p.env = containerEnv(sc.Env, sc.Port)
		if err := launchContainer(ctx, p, opt); err != nil {
			cancel()
			os.RemoveAll(dir)
			return nil, err
		}
		return p, nil
	}
	go func() {
		defer close(p.done)
		p.res, p.runErr = p.exec.Run(ctx, executor.Step{
			Name:      "sidecar " + sc.Name,
			Script:    sc.Run,
			Env:       p.env,
			Dir:       dir,
			Output:    p.out,
			KillGrace: opt.KillGrace,
		})
		p.out.flush()
	}()
	return p, nil
}

// addr is where Velocity reaches the sidecar: loopback for a host
// sidecar, the container's address for one with an image.
func (p *process) addr() string {
	if p.started != nil {
		return net.JoinHostPort(p.ip, strconv.Itoa(p.port))
	}
	return net.JoinHostPort(host, strconv.Itoa(p.port))
}

// hostFor is the name an action reaches the sidecar by: a container
// sidecar's name on the run's network from an action in a container,
// else the address Velocity reaches it at.
func (p *process) hostFor(inContainer bool) string {
	switch {
	case p.started == nil:
		return host
	case inContainer:
		return p.name
	}
	return p.ip
}

// exited says whether the sidecar's processes are all gone.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitReason describes an exit before readiness; call it only once done
// is closed.
func (p *process) exitReason() error {
	switch {
	case p.runErr != nil:
		return fmt.Errorf("could not be started: %w", p.runErr)
	case p.res.Signal != "":
		return fmt.Errorf("was ended by signal %q before becoming ready", p.res.Signal)
	default:
		return fmt.Errorf("exited with code %d before becoming ready", p.res.ExitCode)
	}
}

// fail wraps why the sidecar failed to start with what it printed.
func (p *process) fail(err error) error {
	return &StartError{Sidecar: p.name, Err: err, Output: p.out.lines()}
}

// stop ends the sidecar, waits for it and removes its directory.
func (p *process) stop() error {
	p.cancel()
	<-p.done
	var errs []error
	if p.ready && p.runErr != nil {
		errs = append(errs, p.runErr)
	}
	if err := os.RemoveAll(p.dir); err != nil {
		errs = append(errs, fmt.Errorf("sidecar %q: remove its directory: %w", p.name, err))
	}
	return errors.Join(errs...)
}

// dirName keeps a sidecar's directory name readable and safe whatever
// characters the sidecar's name has.
func dirName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, name)
}
