package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/proxy"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/spec"
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

// DefaultFailAfter is how long a new instance's health check may get
// the same failing HTTP status, after the start period, before the
// deploy gives up on it when the service sets no health.fail_after.
// Ten seconds lets a program that answers 503 while it opens its
// connections finish warming up, and still ends a deploy whose health
// endpoint reports a broken dependency long before a deadline of
// minutes.
const DefaultFailAfter = 10 * time.Second

// minSameAnswers is the fewest identical failing answers that fail a
// deploy early, however long they took: with a long health interval one
// or two answers are too little to judge by.
const minSameAnswers = 3

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
	body := snippet(c.Body, secrets)
	if body == "" {
		return fmt.Sprintf("%s GET %s: %d %s (empty body)", at, c.Path, c.Status, http.StatusText(c.Status))
	}
	return fmt.Sprintf("%s GET %s: %d %s %q", at, c.Path, c.Status, http.StatusText(c.Status), body)
}

// snippet is the start of a health check's body, secrets masked, on one
// line.
func snippet(b []byte, secrets [][]byte) string {
	// The proxy keeps more than is shown, so that a secret starting
	// inside the snippet is whole when it is masked.
	for _, v := range secrets {
		b = bytes.ReplaceAll(b, v, []byte("***"))
	}
	if len(b) > bodySnippet {
		b = b[:bodySnippet]
	}
	return sanitise(b)
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

// exits counts the times proc's program ended on its own and says how
// it last did.
func exits(proc runtime.Instance) (n int, last string) { return proc.Exits() }

// portTaken is a starting instance whose port another program took
// between the moment it was picked (free) and the moment the instance
// could listen on it.
type portTaken struct {
	n       int
	release string
	addr    string
}

func (e *portTaken) Error() string {
	return fmt.Sprintf("instance %d of release %s exited and another program listens on its address %s", e.n, e.release, e.addr)
}

// addrKeeper is an instance whose address is a listener of Velocity's
// own, kept while the instance restarts (the Kubernetes runtime's relay
// to its pod): something listening there is no other program.
type addrKeeper interface{ KeepsAddr() bool }

func keepsAddr(in runtime.Instance) bool {
	k, ok := in.(addrKeeper)
	return ok && k.KeepsAddr()
}

// takenByAnother reports whether something listens on addr: called
// while the instance's own process is down (restarting), that is not
// the instance.
func takenByAnother(addr string) bool {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	// Only a port of this host can be tried; an instance elsewhere (a
	// container, a pod) is left to the crash-loop check.
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return false
	}
	port, err := strconv.Atoi(p)
	return err == nil && netport.Taken(port)
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

// sameAnswer is a starting instance whose health endpoint kept giving
// the same failing answer after its start period.
type sameAnswer struct {
	n       int
	release string
	service string
	path    string
	status  int
	body    string // the start of the last answer's body, sanitised
	count   int
	took    time.Duration
	setting string // "health.fail_after 10s" or "default health.fail_after 10s"
}

func (e *sameAnswer) Error() string {
	body := "an empty body"
	if e.body != "" {
		body = fmt.Sprintf("%q", e.body)
	}
	return fmt.Sprintf("instance %d of release %s answers %d %s on %s (%s) %d times in a row for %v (%s): the health endpoint itself reports unhealthy, so the deploy stops here instead of waiting for its deadline; check the instance's log below (if it was only warming up, give it services.%s.health.start_period or a longer fail_after)",
		e.n, e.release, e.status, http.StatusText(e.status), e.path, body, e.count, e.took.Round(100*time.Millisecond), e.setting, e.service)
}

// streak follows the run of identical failing HTTP answers a starting
// instance gets after its start period.
type streak struct {
	countFrom time.Time // the end of the start period
	seen      time.Time // the newest answer looked at
	status    int
	since     time.Time
	count     int
	last      proxy.CheckResult
}

// add looks at the checks not seen yet, oldest first.
func (s *streak) add(checks []proxy.CheckResult) {
	for _, c := range checks {
		if !c.At.After(s.seen) {
			continue
		}
		s.seen = c.At
		failing := c.Err == "" && c.Path != "" && !c.OK()
		switch {
		case c.At.Before(s.countFrom) || !failing:
			s.status, s.count = 0, 0
		case c.Status == s.status:
			s.count++
			s.last = c
		default:
			s.status, s.since, s.count, s.last = c.Status, c.At, 1, c
		}
	}
}

// failAfter is the service's health.fail_after with its default, and
// how to name it in a message.
func failAfter(h spec.Health) (time.Duration, string) {
	if h.FailAfter > 0 {
		return h.FailAfter, fmt.Sprintf("health.fail_after %v", h.FailAfter)
	}
	return DefaultFailAfter, fmt.Sprintf("default health.fail_after %v", DefaultFailAfter)
}

// waitHealthy waits until in passes the proxy's health check, whose
// answers in.answers shows if it does not. It fails fast when the
// process keeps exiting or the health endpoint keeps giving the same
// failing answer (a *sameAnswer); when ctx ends first the error is a
// *notHealthy.
func (d *Deployer) waitHealthy(ctx context.Context, in *instance, n int, r *release, req Request) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in.answers = &answers{target: in.target, secrets: secretValues(req)}
	done := make(chan error, 1)
	go func() { done <- in.target.WaitHealthy(wctx) }()
	started := time.Now()
	h := req.Service.Health
	limit, setting := failAfter(h)
	same := &streak{countFrom: started.Add(h.StartPeriod)}
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
			count, last := exits(in.proc)
			if count >= 1 && in.proc.State() == runtime.StateRestarting && !keepsAddr(in.proc) && takenByAnother(in.proc.Addr()) {
				return &portTaken{n: n, release: r.id, addr: in.proc.Addr()}
			}
			if count >= maxExitsBeforeHealthy {
				return &crashLoop{n: n, release: r.id, exits: count, last: last, took: time.Since(started)}
			}
			same.add(in.target.Checks())
			if same.count >= minSameAnswers && same.last.At.Sub(same.since) >= limit {
				return &sameAnswer{n: n, release: r.id, service: req.Service.Name, path: same.last.Path,
					status: same.status, body: snippet(same.last.Body, in.answers.secrets), count: same.count,
					took: same.last.At.Sub(same.since), setting: setting}
			}
		}
	}
}
