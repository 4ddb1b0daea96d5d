package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/velocity-ci/velocity/internal/proxy"
	"github.com/velocity-ci/velocity/internal/runtime"
)

// This file is the gate a new instance passes before it gets traffic:
// the proxy's health check must pass, while the deploy keeps the last
// answers it got (status and the start of the body, which usually says
// why: "db not ready") and watches for a process that keeps exiting, so
// a crash loop fails the deploy at once instead of at its deadline.

// maxExitsBeforeHealthy is how many times an instance may exit before
// its first passing health check before the deploy gives up on it. One
// exit may be a race with a dependency and the supervisor's restart
// helps; three in a row (the restart backoff makes that about a second)
// is a release that cannot start, whatever its exit code, and waiting
// out the deadline would only delay the same verdict.
const maxExitsBeforeHealthy = 3

// bodySnippet is how much of a health check's response body is shown.
const bodySnippet = 200

// answers formats the proxy's last health checks of one starting
// instance (status and the start of the body, or why none came) for a
// failed deploy. The proxy's check is the only one: it decides health
// and keeps what it saw.
type answers struct {
	target *proxy.Target
	// secrets are the service's secret values: a health endpoint that
	// echoes one must not put it into a deploy's failure message.
	secrets [][]byte
}

func (as *answers) list() []string {
	if as == nil || as.target == nil {
		return nil
	}
	var out []string
	for _, c := range as.target.Checks() {
		out = append(out, answerText(c, as.secrets))
	}
	return out
}

// answerText reads like `12:00:01.250 GET /healthz: 503 Service
// Unavailable "db not ready"`, with secrets masked.
func answerText(c proxy.CheckResult, secrets [][]byte) string {
	at := c.At.Format("15:04:05.000")
	switch {
	case c.Err != "":
		return fmt.Sprintf("%s %s", at, c.Err)
	case c.Path == "":
		return fmt.Sprintf("%s tcp connect: ok", at)
	}
	// The proxy keeps more than is shown, so that a secret starting
	// inside the snippet is whole when it is masked.
	b := c.Body
	for _, v := range secrets {
		b = bytes.ReplaceAll(b, v, []byte("***"))
	}
	if len(b) > bodySnippet {
		b = b[:bodySnippet]
	}
	body := sanitise(b)
	if body == "" {
		return fmt.Sprintf("%s GET %s: %d %s (empty body)", at, c.Path, c.Status, http.StatusText(c.Status))
	}
	return fmt.Sprintf("%s GET %s: %d %s %q", at, c.Path, c.Status, http.StatusText(c.Status), body)
}

// sanitise makes a body snippet safe to print on one line: valid UTF-8,
// control characters as spaces, runs of space collapsed.
func sanitise(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// crashLoop is a starting instance that exited too often to be waited for.
type crashLoop struct {
	n       int // the instance's number in its release, from 1
	release string
	exits   int
	last    string // "exited with code 3", "was killed by SIGSEGV"
	took    time.Duration
}

func (e *crashLoop) Error() string {
	return fmt.Sprintf("instance %d of release %s %s before becoming healthy (%d exits in %v, none passed a health check); the release cannot start, so the deploy stops here instead of waiting for its deadline",
		e.n, e.release, e.last, e.exits, e.took.Round(100*time.Millisecond))
}

// exits counts the times the supervisor saw proc exit and says how it
// last did, from its notes in the instance's log ("instance ID exited
// with code 3; restarting in 200ms").
func exits(proc runtime.Instance) (n int, last string) {
	prefix := "instance " + proc.ID() + " "
	for _, l := range proc.LastLines(200) {
		i := strings.Index(l, prefix)
		if i < 0 {
			continue
		}
		rest := l[i+len(prefix):]
		if j := strings.Index(rest, "; restarting"); j > 0 {
			n, last = n+1, rest[:j]
		}
	}
	return n, last
}

// notHealthy is a starting instance the deploy stopped waiting for
// because its deadline came.
type notHealthy struct {
	n       int
	id      string
	release string
}

func (e *notHealthy) Error() string {
	return fmt.Sprintf("instance %d (%s) of release %s did not pass its health check", e.n, e.id, e.release)
}

// waitHealthy waits until in passes the proxy's health check, whose
// answers in.answers shows if it does not. It fails fast when the
// process keeps exiting; when ctx ends first the error is a *notHealthy.
func (d *Deployer) waitHealthy(ctx context.Context, in *instance, n int, r *release, req Request) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in.answers = &answers{target: in.target, secrets: secretValues(req)}
	done := make(chan error, 1)
	go func() { done <- in.target.WaitHealthy(wctx) }()
	started := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			switch {
			case err == nil:
				return nil
			case ctx.Err() != nil:
				return &notHealthy{n: n, id: in.proc.ID(), release: r.id}
			}
			return fmt.Errorf("instance %d (%s) of release %s: %w", n, in.proc.ID(), r.id, err)
		case <-tick.C:
			if count, last := exits(in.proc); count >= maxExitsBeforeHealthy {
				return &crashLoop{n: n, release: r.id, exits: count, last: last, took: time.Since(started)}
			}
		}
	}
}
