package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
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

// keptAnswers is how many health check answers a failed deploy shows.
const keptAnswers = 3

// bodySnippet is how much of a health check's response body is kept.
const bodySnippet = 200

// answer is one health check the deploy made of a starting instance.
type answer struct {
	at     time.Time
	status int    // 0 for a TCP check or a transport error
	body   string // sanitised start of the body
	err    string // connection error, empty when an answer came
	tcp    bool
	path   string
}

func (a answer) String() string {
	at := a.at.Format("15:04:05.000")
	switch {
	case a.err != "":
		return fmt.Sprintf("%s %s", at, a.err)
	case a.tcp:
		return fmt.Sprintf("%s tcp connect: ok", at)
	case a.body == "":
		return fmt.Sprintf("%s GET %s: %d %s (empty body)", at, a.path, a.status, http.StatusText(a.status))
	}
	return fmt.Sprintf("%s GET %s: %d %s %q", at, a.path, a.status, http.StatusText(a.status), a.body)
}

// answers records the last health check answers of one instance.
type answers struct {
	// secrets are the service's secret values: a health endpoint that
	// echoes one must not put it into a deploy's failure message.
	secrets [][]byte

	mu   sync.Mutex
	last []answer
}

func (as *answers) add(a answer) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.last = append(as.last, a)
	if len(as.last) > keptAnswers {
		as.last = as.last[len(as.last)-keptAnswers:]
	}
}

func (as *answers) list() []answer {
	if as == nil {
		return nil
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	return append([]answer(nil), as.last...)
}

// probe checks addr as hc says every interval until ctx ends, recording
// the answers. The proxy's own check decides health; this one only
// keeps what a failed deploy must show, which the proxy does not keep.
func (as *answers) probe(ctx context.Context, addr string, hc proxy.HealthCheck, interval time.Duration) {
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	interval = max(interval, 100*time.Millisecond)
	for {
		a := check(ctx, client, addr, hc.Path, timeout, as.secrets)
		if ctx.Err() != nil {
			return
		}
		as.add(a)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func check(ctx context.Context, client *http.Client, addr, path string, timeout time.Duration, secrets [][]byte) answer {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a := answer{at: time.Now(), path: path, tcp: path == ""}
	if a.tcp {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			a.err = connError(err, timeout)
			return a
		}
		_ = conn.Close()
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		a.err = err.Error()
		return a
	}
	resp, err := client.Do(req)
	if err != nil {
		a.err = connError(err, timeout)
		return a
	}
	defer resp.Body.Close()
	// Read past the snippet by the longest secret, so that a secret
	// starting inside the snippet is whole when it is masked.
	longest := 0
	for _, v := range secrets {
		longest = max(longest, len(v))
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, int64(bodySnippet+longest)))
	for _, v := range secrets {
		b = bytes.ReplaceAll(b, v, []byte("***"))
	}
	if len(b) > bodySnippet {
		b = b[:bodySnippet]
	}
	a.status, a.body = resp.StatusCode, sanitise(b)
	return a
}

// connError says why a check got no answer, without Go's wrapping of it
// ("Get \"http://...\": context deadline exceeded").
func connError(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within the health check timeout of %v", timeout)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	return err.Error()
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

// waitHealthy waits until in passes the proxy's health check, recording
// the answers of its own checks in in.answers. It fails fast when the
// process keeps exiting; when ctx ends first the error is a *notHealthy.
func (d *Deployer) waitHealthy(ctx context.Context, in *instance, n int, r *release, req Request) error {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	in.answers = &answers{secrets: secretValues(req)}
	hc := healthCheck(req)
	interval := req.Service.Health.Interval
	if interval <= 0 {
		interval = time.Second
	}
	wg.Go(func() { in.answers.probe(wctx, in.proc.Addr(), hc, interval) })
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
