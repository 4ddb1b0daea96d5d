package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/proxy"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/spec"
)

// appBin is testdata/app, built once for all tests.
var appBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "velocity-deploy-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	appBin = filepath.Join(dir, "app")
	build := exec.Command("go", "build", "-o", appBin, "./testdata/app")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build test app:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	envName = "test"
	svcName = "web"
	host    = "web.test.localhost"
)

// recordingRuntime is the real local runtime, remembering every instance it
// started so tests can check that a failed release's instances are gone.
type recordingRuntime struct {
	*runtime.Local
	mu      sync.Mutex
	started []runtime.Instance
}

func (r *recordingRuntime) Start(ctx context.Context, s runtime.Spec) (runtime.Instance, error) {
	in, err := r.Local.Start(ctx, s)
	if err == nil {
		r.mu.Lock()
		r.started = append(r.started, in)
		r.mu.Unlock()
	}
	return in, err
}

// instances returns the instances started so far, oldest first.
func (r *recordingRuntime) instances() []runtime.Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]runtime.Instance(nil), r.started...)
}

type harness struct {
	t        *testing.T
	rt       *recordingRuntime
	blobs    *artifact.Blobs
	d        *deploy.Deployer
	proxyURL string
	releases int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	local, err := runtime.NewLocal(runtime.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	rt := &recordingRuntime{Local: local}
	px := proxy.New(proxy.Options{Logger: logger})
	// The proxy's own data path, as velocity run and velocity serve use it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go px.Serve(ln, proxy.ServeOptions{})
	proxyURL := "http://" + ln.Addr().String()
	blobs, err := artifact.OpenBlobs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := &deploy.Deployer{
		Runtime: rt, Proxy: px, Blobs: blobs, Dir: t.TempDir(),
		ProxyURL: proxyURL, Logger: logger,
	}
	t.Cleanup(func() {
		d.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := px.Shutdown(ctx); err != nil {
			t.Errorf("proxy shutdown: %v", err)
		}
		px.Close()
		if err := local.Close(ctx); err != nil {
			t.Errorf("runtime close: %v", err)
		}
	})
	return &harness{t: t, rt: rt, blobs: blobs, d: d, proxyURL: proxyURL}
}

// release makes the files of a release: the app, its version.txt and,
// unless mode is empty, a mode.txt that makes it misbehave.
func (h *harness) release(version, mode string) []artifact.File {
	h.t.Helper()
	dir := h.t.TempDir()
	bin, err := os.ReadFile(appBin)
	if err != nil {
		h.t.Fatal(err)
	}
	files := map[string][]byte{"app": bin, "version.txt": []byte(version + "\n")}
	if mode != "" {
		files["mode.txt"] = []byte(mode + "\n")
	}
	var names []string
	for name, b := range files {
		perm := os.FileMode(0o644)
		if name == "app" {
			perm = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, perm); err != nil {
			h.t.Fatal(err)
		}
		names = append(names, name)
	}
	out, err := h.blobs.Collect(dir, names)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func service(strategy string, replicas int) spec.Service {
	return spec.Service{
		Name:     svcName,
		Run:      "exec ./app",
		Replicas: replicas,
		Health: spec.Health{
			HTTP: "/healthz", Interval: 200 * time.Millisecond, Timeout: time.Second,
			Healthy: 1, Unhealthy: 2,
		},
		Strategy: spec.Strategy{Type: strategy, KeepWarm: 300 * time.Millisecond},
		Drain:    5 * time.Second,
		Deadline: 15 * time.Second,
	}
}

// deploy deploys files as a new release and returns its id.
func (h *harness) deploy(svc spec.Service, files []artifact.File) (string, error) {
	h.t.Helper()
	h.releases++
	id := fmt.Sprintf("r%d", h.releases)
	var log bytes.Buffer
	_, err := h.d.Deploy(context.Background(), deploy.Request{
		Service: svc, Environment: spec.Environment{Name: envName},
		Release: id, Files: files, Log: &log,
	})
	h.t.Logf("deploy %s:\n%s", id, log.String())
	return id, err
}

func (h *harness) mustDeploy(svc spec.Service, files []artifact.File) string {
	h.t.Helper()
	id, err := h.deploy(svc, files)
	if err != nil {
		h.t.Fatalf("deploy %s: %v", id, err)
	}
	return id
}

// get sends one GET through the proxy.
func get(client *http.Client, proxyURL string) (status int, body, port string, err error) {
	req, err := http.NewRequest(http.MethodGet, proxyURL+"/", nil)
	if err != nil {
		return 0, "", "", err
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", "", err
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header.Get("X-Port"), nil
}

// load is a continuous GET load from a few concurrent clients.
type load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	requests atomic.Int64

	mu       sync.Mutex
	failures []string       // first few
	failed   int            // non-2xx or transport errors
	bodies   map[string]int // by body of 2xx responses
	ports    map[string]int // by X-Port of 2xx responses
	seq      []string       // distinct bodies in order of first appearance
}

func startLoad(t *testing.T, proxyURL string, clients int) *load {
	t.Helper()
	l := &load{stop: make(chan struct{}), bodies: map[string]int{}, ports: map[string]int{}}
	tr := &http.Transport{MaxIdleConnsPerHost: clients, Proxy: nil}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range clients {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.requests.Add(1)
				status, body, port, err := get(client, proxyURL)
				l.mu.Lock()
				switch {
				case err != nil || status < 200 || status > 299:
					l.failed++
					if len(l.failures) < 10 {
						l.failures = append(l.failures, fmt.Sprintf("%d %q %v", status, body, err))
					}
				default:
					if l.bodies[body] == 0 {
						l.seq = append(l.seq, body)
					}
					l.bodies[body]++
					l.ports[port]++
				}
				l.mu.Unlock()
			}
		})
	}
	t.Cleanup(func() { l.halt(); tr.CloseIdleConnections() })
	return l
}

// halt stops the load and waits for the clients; it may be called twice.
func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// snapshot returns the 2xx counts by body and by port so far.
func (l *load) snapshot() (bodies, ports map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	bodies, ports = map[string]int{}, map[string]int{}
	for k, v := range l.bodies {
		bodies[k] = v
	}
	for k, v := range l.ports {
		ports[k] = v
	}
	return bodies, ports
}

// checkNoFailures fails t if any request of the load failed.
func (l *load) checkNoFailures(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("%d requests, %d failed, by body %v", l.requests.Load(), l.failed, l.bodies)
	if l.failed > 0 {
		t.Errorf("%d of %d requests failed; first ones:\n%s", l.failed, l.requests.Load(), strings.Join(l.failures, "\n"))
	}
}

// waitForRequests lets the load run until it has sent n more requests.
func (l *load) waitForRequests(t *testing.T, n int64) {
	t.Helper()
	target := l.requests.Load() + n
	deadline := time.Now().Add(10 * time.Second)
	for l.requests.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("load stalled at %d requests", l.requests.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serves checks that n sequential requests all get "release <version>".
func (h *harness) serves(version string, n int) {
	h.t.Helper()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for range n {
		status, body, _, err := get(client, h.proxyURL)
		if err != nil || status != http.StatusOK || body != "release "+version {
			h.t.Fatalf("want 200 %q, got %d %q %v", "release "+version, status, body, err)
		}
	}
}

// switchover deploys A, then B under load, and checks that no request
// failed and that the answers went from A to B.
func switchover(t *testing.T, strategy string, replicas int) *harness {
	h := newHarness(t)
	svc := service(strategy, replicas)
	h.mustDeploy(svc, h.release("A", ""))
	h.serves("A", 5)

	l := startLoad(t, h.proxyURL, 4)
	l.waitForRequests(t, 200)
	h.mustDeploy(svc, h.release("B", ""))
	l.waitForRequests(t, 200)
	l.halt()

	l.checkNoFailures(t)
	if len(l.seq) == 0 || l.seq[0] != "release A" || l.bodies["release B"] == 0 {
		t.Errorf("answers did not go from A to B: first seen %v, counts %v", l.seq, l.bodies)
	}
	for body := range l.bodies {
		if body != "release A" && body != "release B" {
			t.Errorf("unexpected answer %q", body)
		}
	}
	h.serves("B", 20)
	return h
}

func TestRollingDeployUnderLoad(t *testing.T) {
	h := switchover(t, "rolling", 2)
	if n := len(h.d.Instances(envName, svcName)); n != 2 {
		t.Errorf("%d instances serve, want 2", n)
	}
	// The old release's instances were stopped as they were replaced.
	for _, in := range h.rt.instances()[:2] {
		if in.State() != runtime.StateStopped {
			t.Errorf("old instance %s is %s, want stopped", in.ID(), in.State())
		}
	}
}

func TestBlueGreenDeployUnderLoad(t *testing.T) {
	h := switchover(t, "blue-green", 2)
	// Kept warm for 300ms, then stopped.
	old := h.rt.instances()[:2]
	deadline := time.Now().Add(10 * time.Second)
	for _, in := range old {
		select {
		case <-in.Exited():
		case <-time.After(time.Until(deadline)):
			t.Errorf("old instance %s still %s after keep_warm", in.ID(), in.State())
		}
	}
}

// brokenRelease deploys A, then a release in the given mode while A
// serves under load, and checks the deploy's error and that A never
// stopped serving.
func brokenRelease(t *testing.T, mode string, deadline time.Duration, wantInErr ...string) (took time.Duration, err error) {
	h := newHarness(t)
	svc := service("rolling", 1)
	h.mustDeploy(svc, h.release("A", ""))

	l := startLoad(t, h.proxyURL, 4)
	l.waitForRequests(t, 100)
	svc.Deadline = deadline
	start := time.Now()
	id, err2 := h.deploy(svc, h.release("B", mode))
	took = time.Since(start)
	err = err2
	l.waitForRequests(t, 100)
	l.halt()

	if err == nil {
		t.Fatalf("deploy of a release that does %q succeeded", mode)
	}
	t.Logf("deploy error after %v:\n%v", took, err)
	// The deadline plus the time to stop the new instances and report.
	if took > svc.Deadline+2*time.Second {
		t.Errorf("deploy took %v, deadline %v", took, svc.Deadline)
	}
	for _, want := range append(wantInErr, "deadline", id) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q", want)
		}
	}
	if strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("error speaks of Go's context")
	}
	l.checkNoFailures(t)
	if len(l.bodies) != 1 || l.bodies["release A"] == 0 {
		t.Errorf("answers during the failed deploy: %v, want only release A", l.bodies)
	}
	h.serves("A", 20)
	for _, in := range h.rt.instances()[1:] {
		if in.State() != runtime.StateStopped {
			t.Errorf("instance %s of the failed release is %s, want stopped", in.ID(), in.State())
		}
	}
	return took, err
}

// A release that exits at start fails as soon as it has exited a few
// times, long before its deadline, saying how it exited first.
func TestCrashingReleaseKeepsOldServing(t *testing.T) {
	took, err := brokenRelease(t, "crash", 15*time.Second,
		"instance 1 of release r2 exited with code 3 before becoming healthy", "fatal: bad config")
	if took > 8*time.Second {
		t.Errorf("a release that cannot start took %v to fail (deadline 15s)", took)
	}
	if first, _, _ := strings.Cut(err.Error(), "\n"); strings.Contains(first, "health check:") {
		t.Errorf("the headline blames the health check: %s", first)
	}
}

// A release that runs but never passes fails at its deadline with its
// last answers, the settings and what to do.
func TestNeverHealthyReleaseKeepsOldServing(t *testing.T) {
	_, err := brokenRelease(t, "unhealthy", 3*time.Second,
		"GET /healthz: 500 Internal Server Error \"unhealthy\"", "not healthy after waiting",
		"deploy deadline 3s", "the instance answers 500 on /healthz: the health endpoint itself reports unhealthy")
	if strings.Contains(err.Error(), "raise the deploy deadline") {
		t.Errorf("advises more time to an endpoint that keeps saying it is unhealthy")
	}
	if n := strings.Count(err.Error(), "GET /healthz: 500"); n != 3 {
		t.Errorf("%d health check answers shown, want the last 3", n)
	}
}

// A boot slower than the deadline shows what the health check answered
// (the body says why), the start period and the way out.
func TestSlowBootShowsHealthAnswers(t *testing.T) {
	h := newHarness(t)
	svc := service("rolling", 1)
	svc.Deadline = 2 * time.Second
	svc.Health.StartPeriod = 5 * time.Second // not valid in velocity.yml, but say so when it happens
	id, err := h.deploy(svc, h.release("A", "slow=60"))
	if err == nil {
		t.Fatal("a release that warms up for 60s was healthy within 2s")
	}
	t.Logf("deploy error:\n%v", err)
	for _, want := range []string{
		"release " + id + " not healthy after waiting 2",
		"health start_period 5s, which it was still in",
		"GET /healthz: 503 Service Unavailable \"warming up, ",
		"services.web.deadline, now 2s",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q", want)
		}
	}
	if strings.Contains(err.Error(), "\x00") || strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("error holds a control character or Go's context")
	}
}

func TestKilledInstanceIsRestartedWithoutFailedRequests(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(service("rolling", 2), h.release("A", ""))
	instances := h.d.Instances(envName, svcName)
	if len(instances) != 2 {
		t.Fatalf("%d instances, want 2", len(instances))
	}
	victim := instances[0]
	_, victimPort, _ := strings.Cut(victim.Addr(), ":")

	l := startLoad(t, h.proxyURL, 4)
	l.waitForRequests(t, 200)
	if _, ports := l.snapshot(); ports[victimPort] == 0 {
		t.Fatalf("no traffic reached instance %s before the kill: %v", victim.Addr(), ports)
	}
	if err := syscall.Kill(victim.(interface{ Pid() int }).Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for victim.Restarts() < 1 {
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("instance not restarted within 5s: %s\n%s", victim.State(), strings.Join(victim.LastLines(20), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("restarted after %v", time.Since(killed))
	_, before := l.snapshot()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.waitForRequests(t, 50)
		if _, ports := l.snapshot(); ports[victimPort] > before[victimPort] {
			t.Logf("traffic reached the restarted instance %v after the kill", time.Since(killed))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no traffic reached the restarted instance within 5s")
		}
	}
	l.halt()
	l.checkNoFailures(t)
	if n := victim.Restarts(); n != 1 {
		t.Errorf("%d restarts, want 1", n)
	}
}

func canaryService() spec.Service {
	svc := service("canary", 1)
	svc.Strategy.Steps = []spec.CanaryStep{{Weight: 50, Pause: 2 * time.Second}}
	svc.Strategy.Analysis = spec.Analysis{
		MaxErrorRateIncrease: 0.05,
		// Generous: a tiny handler's p95 on a busy machine is noise.
		MaxLatencyRatio: 20,
		MinRequests:     10,
	}
	return svc
}

func TestBadCanaryIsRolledBack(t *testing.T) {
	h := newHarness(t)
	svc := canaryService()
	h.mustDeploy(svc, h.release("A", ""))

	l := startLoad(t, h.proxyURL, 4)
	l.waitForRequests(t, 100)
	id, err := h.deploy(svc, h.release("B", "errors=50"))
	l.halt()
	if err == nil {
		t.Fatal("a canary failing half its requests was promoted")
	}
	t.Logf("deploy error:\n%v", err)
	if !strings.Contains(err.Error(), "error rate") {
		t.Errorf("error does not mention the error rate")
	}
	if l.bodies["release B"] == 0 {
		t.Errorf("the canary got no successful traffic: %v", l.bodies)
	}
	h.serves("A", 50)
	canary := h.rt.instances()[1:]
	if len(canary) != 1 {
		t.Fatalf("%d instances started for canary %s, want 1", len(canary), id)
	}
	for _, in := range canary {
		if in.State() != runtime.StateStopped {
			t.Errorf("canary instance %s is %s, want stopped", in.ID(), in.State())
		}
	}
	if got := h.d.Instances(envName, svcName); len(got) != 1 || got[0] != h.rt.instances()[0] {
		t.Errorf("serving instances after rollback: %v", got)
	}
}

// A canary that gets no traffic has no verdict: by default it is rolled
// back, saying so; on_inconclusive: promote lets it through, saying that.
func TestCanaryWithoutTrafficIsInconclusive(t *testing.T) {
	h := newHarness(t)
	svc := canaryService()
	svc.Strategy.Steps = []spec.CanaryStep{{Weight: 50, Pause: 500 * time.Millisecond}}
	h.mustDeploy(svc, h.release("A", ""))
	id, err := h.deploy(svc, h.release("B", "errors=100"))
	if err == nil {
		t.Fatal("a canary nothing was sent to was promoted")
	}
	t.Logf("deploy error:\n%v", err)
	for _, want := range []string{"canary analysis inconclusive: 0 requests to " + id, "min_requests 10", "send traffic during the canary"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q", want)
		}
	}
	h.serves("A", 5)

	svc.Strategy.Analysis.OnInconclusive = "promote"
	var log bytes.Buffer
	h.releases++
	id = fmt.Sprintf("r%d", h.releases)
	if _, err := h.d.Deploy(context.Background(), deploy.Request{
		Service: svc, Environment: spec.Environment{Name: envName},
		Release: id, Files: h.release("C", ""), Log: &log,
	}); err != nil {
		t.Fatalf("deploy with on_inconclusive: promote: %v", err)
	}
	if !strings.Contains(log.String(), "canary analysis skipped at 50%: 0 requests to "+id) {
		t.Errorf("the promotion without data was not reported:\n%s", log.String())
	}
	h.serves("C", 5)
}

func TestGoodCanaryIsPromoted(t *testing.T) {
	h := newHarness(t)
	svc := canaryService()
	h.mustDeploy(svc, h.release("A", ""))

	l := startLoad(t, h.proxyURL, 4)
	l.waitForRequests(t, 100)
	h.mustDeploy(svc, h.release("B", ""))
	l.halt()
	l.checkNoFailures(t)
	if l.bodies["release A"] == 0 || l.bodies["release B"] == 0 {
		t.Errorf("answers during the canary: %v, want both releases", l.bodies)
	}
	h.serves("B", 50)
	if in := h.rt.instances()[0]; in.State() != runtime.StateStopped {
		t.Errorf("stable instance %s is %s after promotion, want stopped", in.ID(), in.State())
	}
}

// A host another service owns is refused, naming both, and the owner
// keeps serving it.
func TestHostOfAnotherServiceIsRefused(t *testing.T) {
	h := newHarness(t)
	shared := spec.Environment{Name: envName, Hosts: []string{host}}
	deployTo := func(name, version string) error {
		svc := service("rolling", 1)
		svc.Name = name
		h.releases++
		var log bytes.Buffer
		_, err := h.d.Deploy(context.Background(), deploy.Request{
			Service: svc, Environment: shared, Release: fmt.Sprintf("r%d", h.releases),
			Files: h.release(version, ""), Log: &log,
		})
		return err
	}
	if err := deployTo(svcName, "A"); err != nil {
		t.Fatal(err)
	}
	err := deployTo("api", "B")
	if err == nil {
		t.Fatal("a second service was given a host the first one serves")
	}
	t.Logf("deploy error: %v", err)
	for _, want := range []string{"test/api", "host " + host + " already routes to test/web"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q", want)
		}
	}
	h.serves("A", 5)
	if n := len(h.rt.instances()); n != 1 {
		t.Errorf("%d instances started, want only web's", n)
	}
	if st := h.d.Statuses(); len(st) != 1 {
		t.Errorf("statuses list the refused service: %+v", st)
	}
}

// A canary whose steps outlast the deadline says so, not that its
// healthy instances were unhealthy.
func TestCanaryLongerThanDeadline(t *testing.T) {
	h := newHarness(t)
	svc := canaryService()
	h.mustDeploy(svc, h.release("A", ""))
	svc.Strategy.Steps = []spec.CanaryStep{{Weight: 50, Pause: time.Minute}}
	svc.Deadline = 2 * time.Second
	id, err := h.deploy(svc, h.release("B", ""))
	if err == nil {
		t.Fatal("a canary with a 1m pause finished within a 2s deadline")
	}
	t.Logf("deploy error:\n%v", err)
	for _, want := range []string{"canary " + id + " at 50% was in its pause when the deploy's deadline came", "services.web.deadline, now 2s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q", want)
		}
	}
	if strings.Contains(err.Error(), "not healthy") || strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("error blames health or Go's context")
	}
	h.serves("A", 5)
}

// A service whose only deploy failed serves nothing, so it does not keep
// its host from another service.
func TestHostOfAFailedServiceIsFree(t *testing.T) {
	h := newHarness(t)
	shared := spec.Environment{Name: envName, Hosts: []string{host}}
	deployTo := func(name, version, mode string) error {
		svc := service("rolling", 1)
		svc.Name = name
		h.releases++
		_, err := h.d.Deploy(context.Background(), deploy.Request{
			Service: svc, Environment: shared, Release: fmt.Sprintf("r%d", h.releases),
			Files: h.release(version, mode), Log: io.Discard,
		})
		return err
	}
	if err := deployTo("api", "A", "crash"); err == nil {
		t.Fatal("a crashing release was deployed")
	}
	if err := deployTo(svcName, "B", ""); err != nil {
		t.Fatalf("the host of a service that serves nothing was refused: %v", err)
	}
	h.serves("B", 5)
	if err := deployTo("api", "C", ""); err == nil || !strings.Contains(err.Error(), "already routes to test/web") {
		t.Errorf("api took web's host back: %v", err)
	}
}
