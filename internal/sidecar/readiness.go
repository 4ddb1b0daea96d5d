package sidecar

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
)

const (
	defaultReadyTimeout  = 30 * time.Second
	defaultReadyInterval = 100 * time.Millisecond
	// checkTimeout bounds one readiness check so that a hanging check (a
	// client waiting on a half-started server) is retried rather than
	// using up the whole wait.
	checkTimeout = 5 * time.Second
	// checkKillGrace is short: a check holds no state worth a clean exit.
	checkKillGrace = time.Second
	// checkLines is how much of a check's output is quoted in an error.
	checkLines = 5
)

// waitReady polls the sidecar's readiness check until it passes, the
// sidecar exits, the timeout passes or ctx ends. Errors other than ctx's
// cause are *StartError.
func (p *process) waitReady(ctx context.Context) error {
	timeout := p.spec.Ready.Timeout
	if timeout <= 0 {
		timeout = defaultReadyTimeout
	}
	interval := p.spec.Ready.Interval
	if interval <= 0 {
		interval = defaultReadyInterval
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A sidecar that has exited never becomes ready: stop waiting, and cut
	// short a check in progress, at once.
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-wctx.Done():
		}
	}()

	said := "nothing: no check finished"
	for {
		ok, msg, err := p.check(wctx)
		if wctx.Err() != nil {
			break
		}
		if err != nil {
			return p.fail(fmt.Errorf("readiness check could not be run: %w", err))
		}
		if ok {
			p.ready = true
			return nil
		}
		said = msg
		t := time.NewTimer(interval)
		select {
		case <-wctx.Done():
			t.Stop()
		case <-t.C:
		}
		if wctx.Err() != nil {
			break
		}
	}
	switch {
	case p.exited():
		return p.fail(p.exitReason())
	case ctx.Err() != nil:
		return context.Cause(ctx)
	default:
		return p.fail(fmt.Errorf("not ready after %v: last check said %s", timeout, said))
	}
}

// check runs one readiness check: the sidecar's ready script if it has
// one, else a TCP connection to its port. msg says why it failed; err is
// for a check that could not be run at all.
func (p *process) check(ctx context.Context) (ok bool, msg string, err error) {
	if p.started != nil && !p.running() {
		return false, "nothing: its container is not running yet", nil
	}
	if p.spec.Ready.Run == "" {
		d := net.Dialer{Timeout: checkTimeout}
		c, err := d.DialContext(ctx, "tcp", p.addr())
		if err != nil {
			return false, strconv.Quote(err.Error()), nil
		}
		c.Close()
		return true, "", nil
	}

	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	out := newOutput("", nil, checkLines)
	var res executor.Result
	if p.started != nil {
		// In the sidecar's container, where its image's tools are.
		res, err = p.containers.Exec(cctx, p.cid, p.spec.Ready.Run, p.env, out)
	} else {
		res, err = p.exec.Run(cctx, executor.Step{
			Name:      "sidecar " + p.name + " readiness check",
			Script:    p.spec.Ready.Run,
			Env:       p.env,
			Dir:       p.dir,
			Output:    out,
			KillGrace: checkKillGrace,
		})
	}
	if err != nil {
		return false, "", err
	}
	out.flush()
	if res.ExitCode == 0 && !res.Stopped {
		return true, "", nil
	}
	said := "nothing"
	if lines := out.lines(); len(lines) > 0 {
		said = strconv.Quote(strings.Join(lines, "\n"))
	}
	switch {
	case res.Stopped:
		return false, fmt.Sprintf("%s (timed out after %v)", said, checkTimeout), nil
	case res.Signal != "":
		return false, fmt.Sprintf("%s (ended by signal %q)", said, res.Signal), nil
	default:
		return false, fmt.Sprintf("%s (exit code %d)", said, res.ExitCode), nil
	}
}
