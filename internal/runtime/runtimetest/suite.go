// Package runtimetest is the conformance suite every runtime.Runtime
// implementation runs from its own tests.
//
// It deploys the program in testserver (a tiny HTTP service) and checks
// only what deploy and the proxy rely on, from the outside: the
// instance's address answers, its environment arrives, its log streams
// with secrets masked,
// Stop drains requests in flight and forces a program that ignores it,
// and a crash is reported and restarted at the same address. It never
// looks at pids or the host's processes, so a container or Kubernetes
// runtime runs it unchanged.
package runtimetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/runtime"
)

// Options configure the suite for one runtime.
type Options struct {
	// New makes the runtime under test; it registers its own clean-up
	// with t.Cleanup.
	New func(t *testing.T) runtime.Runtime
	// Server returns how the runtime runs testserver: Dir and Command of
	// the built program for host processes, Image (and Command if need
	// be) for containers. The suite fills in the rest of the Spec.
	Server func(t *testing.T) runtime.Spec
	// Images says the runtime supports Spec.Image; when false the suite
	// checks that a Spec naming an image is refused.
	Images bool
}

// Run runs the suite.
func Run(t *testing.T, opt Options) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"AddressAnswers", testAddress},
		{"LogsStream", testLogs},
		{"SecretsAreMasked", testSecrets},
		{"StopDrainsInFlightRequests", testDrain},
		{"StopForcesAfterGrace", testForce},
		{"StopIsIdempotent", testStopTwice},
		{"CrashIsReportedAndRestarted", testCrash},
		{"InstancesAreIndependent", testConcurrent},
		{"ImageRefusedWithoutSupport", testImage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, &suite{opt: opt, rt: opt.New(t)})
		})
	}
}

type suite struct {
	opt Options
	rt  runtime.Runtime
}

// spec is the suite's Spec for testserver with extra environment.
func (s *suite) spec(t *testing.T, env ...string) runtime.Spec {
	sp := s.opt.Server(t)
	sp.Service, sp.Environment, sp.Release = "suite", "test", "r1"
	sp.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "GREETING=suite"}, env...)
	sp.LogDir = t.TempDir()
	sp.Restart = runtime.RestartPolicy{Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	sp.StopGrace = 10 * time.Second
	return sp
}

// start starts sp, stops it with the test, and waits until it answers.
func (s *suite) start(t *testing.T, sp runtime.Spec) runtime.Instance {
	t.Helper()
	in, err := s.rt.Start(context.Background(), sp)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = in.Stop(ctx)
	})
	waitAnswers(t, in)
	return in
}

var client = &http.Client{Timeout: 5 * time.Second}

func get(addr, path string) (string, error) {
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), nil
}

// waitAnswers waits until the instance's address answers /hello.
func waitAnswers(t *testing.T, in runtime.Instance) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		body, err := get(in.Addr(), "/hello")
		if err == nil && body == "hello suite" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered (last: %q, %v); log:\n%s", in.Addr(), body, err, strings.Join(in.LastLines(30), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logReader reads an instance's log stream line by line in the
// background, so that a test can wait for a line.
type logReader struct {
	mu    sync.Mutex
	lines []string
	eof   chan struct{}
}

func follow(t *testing.T, in runtime.Instance, tail int) *logReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := in.Logs(ctx, tail)
	if err != nil {
		cancel()
		t.Fatalf("Logs: %v", err)
	}
	t.Cleanup(func() { cancel(); rc.Close() })
	r := &logReader{eof: make(chan struct{})}
	go func() {
		defer close(r.eof)
		sc := bufio.NewScanner(rc)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *logReader) has(want string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

func (r *logReader) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

func (r *logReader) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !r.has(want) {
		if time.Now().After(deadline) {
			t.Fatalf("log stream never had %q; got %q", want, r.snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testAddress(t *testing.T, s *suite) {
	in := s.start(t, s.spec(t))
	host, port, err := net.SplitHostPort(in.Addr())
	if err != nil || host == "" || port == "" || port == "0" {
		t.Fatalf("Addr %q is not host:port: %v", in.Addr(), err)
	}
	if in.ID() == "" {
		t.Error("instance has no ID")
	}
	if st := in.State(); st != runtime.StateRunning {
		t.Errorf("state %s while it answers, want running", st)
	}
	if n, last := in.Exits(); n != 0 || in.Restarts() != 0 {
		t.Errorf("a fresh instance reports %d exits (%q) and %d restarts", n, last, in.Restarts())
	}
}

func testLogs(t *testing.T, s *suite) {
	in := s.start(t, s.spec(t))
	logs := follow(t, in, 50)
	// The tail has what was printed before the stream was opened.
	logs.waitFor(t, "listening")
	for _, line := range []string{"first-marker", "second-marker"} {
		if _, err := get(in.Addr(), "/log?line="+line); err != nil {
			t.Fatal(err)
		}
		logs.waitFor(t, line)
	}
	if !strings.Contains(strings.Join(in.LastLines(10), "\n"), "second-marker") {
		t.Errorf("LastLines misses what the stream had: %q", in.LastLines(10))
	}
}

// A secret the program prints never reaches what the runtime keeps or
// streams.
func testSecrets(t *testing.T, s *suite) {
	const secret = "s3cr3t-value-42"
	sp := s.spec(t, "TOKEN="+secret)
	sp.Secrets = [][]byte{[]byte(secret)}
	in := s.start(t, sp)
	logs := follow(t, in, 0)
	if _, err := get(in.Addr(), "/log?line=token="+secret+"-end"); err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, "-end")
	for _, l := range append(logs.snapshot(), in.LastLines(50)...) {
		if strings.Contains(l, secret) {
			t.Fatalf("secret in the log: %q", l)
		}
	}
	if !logs.has("token=***-end") {
		t.Errorf("the line was not masked as ***: %q", logs.snapshot())
	}
}

func testDrain(t *testing.T, s *suite) {
	in := s.start(t, s.spec(t))
	logs := follow(t, in, 0)
	type answer struct {
		body string
		err  error
	}
	slow := make(chan answer, 1)
	go func() {
		body, err := get(in.Addr(), "/slow?ms=1000")
		slow <- answer{body, err}
	}()
	logs.waitFor(t, "slow request started")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := in.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	a := <-slow
	if a.err != nil || a.body != "slow done" {
		t.Fatalf("the request in flight when Stop began got %q, %v: Stop must let the program drain", a.body, a.err)
	}
	assertStopped(t, in)
	select {
	case <-logs.eof:
	case <-time.After(5 * time.Second):
		t.Error("the log stream did not end after Stop")
	}
	if !logs.has("drained") {
		t.Errorf("the stream misses the program's last lines: %q", logs.snapshot())
	}
}

// assertStopped checks what a stopped instance looks like from outside.
func assertStopped(t *testing.T, in runtime.Instance) {
	t.Helper()
	select {
	case <-in.Exited():
	default:
		t.Error("Exited is not closed after Stop returned")
	}
	if st := in.State(); st != runtime.StateStopped {
		t.Errorf("state %s after Stop, want stopped", st)
	}
	if _, err := get(in.Addr(), "/hello"); err == nil {
		t.Errorf("%s still answers after Stop", in.Addr())
	}
}

func testForce(t *testing.T, s *suite) {
	sp := s.spec(t, "IGNORE_TERM=1")
	sp.StopGrace = 500 * time.Millisecond
	in := s.start(t, sp)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := in.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(start); took < 400*time.Millisecond || took > 10*time.Second {
		t.Errorf("Stop of a program ignoring SIGTERM took %v; want the grace period (%v), then a kill", took, sp.StopGrace)
	}
	assertStopped(t, in)
}

func testStopTwice(t *testing.T, s *suite) {
	in := s.start(t, s.spec(t))
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := in.Stop(ctx); err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := in.Stop(ctx); err != nil {
		t.Errorf("Stop after Stop: %v", err)
	}
	assertStopped(t, in)
}

func testCrash(t *testing.T, s *suite) {
	in := s.start(t, s.spec(t))
	addr := in.Addr()
	logs := follow(t, in, 0)
	if body, err := get(addr, "/crash"); err != nil || body != "crashing" {
		t.Fatalf("crash request: %q, %v", body, err)
	}
	logs.waitFor(t, "crashing on request")
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, last := in.Exits()
		if n >= 1 && in.Restarts() >= 1 {
			if last == "" {
				t.Error("Exits counts the crash but does not say how it ended")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("crash not reported and restarted: exits %d (%q), restarts %d, state %s", n, last, in.Restarts(), in.State())
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitAnswers(t, in)
	if in.Addr() != addr {
		t.Errorf("address changed across the restart: %s → %s", addr, in.Addr())
	}
	if n, _ := in.Exits(); n != 1 {
		t.Errorf("one crash counted as %d exits", n)
	}
}

func testConcurrent(t *testing.T, s *suite) {
	ins := make([]runtime.Instance, 3)
	var wg sync.WaitGroup
	for i := range ins {
		wg.Go(func() {
			in, err := s.rt.Start(context.Background(), s.spec(t))
			if err != nil {
				t.Errorf("Start: %v", err)
				return
			}
			ins[i] = in
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, in := range ins {
		if in == nil {
			t.FailNow()
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_ = in.Stop(ctx)
		})
		if seen[in.Addr()] || seen[in.ID()] {
			t.Errorf("two instances share address %s or ID %s", in.Addr(), in.ID())
		}
		seen[in.Addr()], seen[in.ID()] = true, true
		waitAnswers(t, in)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ins[0].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, in := range ins[1:] {
		if _, err := get(in.Addr(), "/hello"); err != nil {
			t.Errorf("stopping one instance stopped %s: %v", in.ID(), err)
		}
	}
}

func testImage(t *testing.T, s *suite) {
	if s.opt.Images {
		t.Skip("the runtime supports images; the other cases run the server from its image")
	}
	sp := s.spec(t)
	sp.Image = "alpine:3"
	in, err := s.rt.Start(context.Background(), sp)
	if err == nil {
		_ = in.Stop(context.Background())
		t.Fatal("a Spec naming an image started on a runtime without image support")
	}
	if !errors.Is(err, runtime.ErrUnsupported) || !strings.Contains(err.Error(), "alpine:3") {
		t.Fatalf("error %v: want ErrUnsupported naming the image", err)
	}
}
