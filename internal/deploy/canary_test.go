package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/spec"
)

// canaryDeploy deploys files as a canary under a load of clients and
// returns the release id and the deploy's error; stable keeps serving
// whatever the verdict, so the harness can go on with the next release.
func (h *harness) canaryDeploy(svc spec.Service, files []artifact.File, clients int) (string, error) {
	h.t.Helper()
	l := startLoad(h.t, h.proxyURL, clients)
	l.waitForRequests(h.t, 50)
	id, err := h.deploy(svc, files)
	l.halt()
	if err != nil {
		h.t.Logf("deploy %s: %v", id, err)
	}
	return id, err
}

// The error rate of a canary is compared with the stable release's: a
// stable release that already fails 10% of its requests lets a canary at
// 12% through (max_error_rate_increase 5 points) and rolls back one at
// 18%. Stable and canary errors are spread evenly by the app, so each
// side of the limit has a margin of a few points.
func TestCanaryErrorRateIsComparedWithStable(t *testing.T) {
	h := newHarness(t)
	svc := canaryService()
	svc.Strategy.Steps = []spec.CanaryStep{{Weight: 50, Pause: 1500 * time.Millisecond}}
	h.mustDeploy(svc, h.release("A", "errors=10"))

	id, err := h.canaryDeploy(svc, h.release("B", "errors=18"), 4)
	if err == nil {
		t.Fatalf("a canary at 18%% errors against 10%% was promoted with max_error_rate_increase 5 points")
	}
	wantIn(t, err.Error(), "canary analysis: error rate", "for stable release r1", "allowed increase 5.0 points")
	var canaryRate, stableRate float64
	if _, scanErr := fmt.Sscanf(err.Error(), "canary analysis: error rate %f%% against %f%%", &canaryRate, &stableRate); scanErr != nil ||
		canaryRate < 15 || canaryRate > 21 || stableRate < 7 || stableRate > 13 {
		t.Errorf("error rates in the message: canary %.1f%%, stable %.1f%% (%v); want about 18%% and 10%%", canaryRate, stableRate, scanErr)
	}
	h.servesOnly("A", 20)
	if got := h.d.Instances(envName, svcName); len(got) != 1 {
		t.Errorf("%d instances serve after canary %s was rolled back, want 1", len(got), id)
	}

	if _, err := h.canaryDeploy(svc, h.release("C", "errors=12"), 4); err != nil {
		t.Fatalf("a canary at 12%% errors against 10%% was rolled back with max_error_rate_increase 5 points: %v", err)
	}
	h.servesOnly("C", 20)
}

// A canary whose p95 latency is more than max_latency_ratio times the
// stable release's is rolled back; under the ratio, or with no ratio set,
// it is promoted. The delays (20ms against 300ms) leave the machine's
// noise far from either limit.
func TestCanaryLatencyIsComparedWithStable(t *testing.T) {
	svc := canaryService()
	svc.Strategy.Steps = []spec.CanaryStep{{Weight: 50, Pause: 2 * time.Second}}
	svc.Strategy.Analysis.MinRequests = 5

	t.Run("over the ratio", func(t *testing.T) {
		h := newHarness(t)
		h.mustDeploy(svc, h.release("A", "delay=20"))
		svc := svc
		svc.Strategy.Analysis.MaxLatencyRatio = 2
		_, err := h.canaryDeploy(svc, h.release("B", "delay=300"), 8)
		if err == nil {
			t.Fatal("a canary 15 times slower than stable was promoted with max_latency_ratio 2")
		}
		wantIn(t, err.Error(), "canary analysis: p95 latency", "for stable release r1", "allowed ratio 2.00")
		h.servesOnly("A", 10)

		// Under the ratio the same canary is promoted.
		svc.Strategy.Analysis.MaxLatencyRatio = 40
		if _, err := h.canaryDeploy(svc, h.release("C", "delay=300"), 8); err != nil {
			t.Fatalf("a canary 15 times slower than stable was rolled back with max_latency_ratio 40: %v", err)
		}
		h.servesOnly("C", 3)
	})
	// A canary over the ratio by less than min_latency_increase is
	// promoted: milliseconds of difference are noise.
	t.Run("under the floor", func(t *testing.T) {
		h := newHarness(t)
		h.mustDeploy(svc, h.release("A", "delay=20"))
		svc := svc
		svc.Strategy.Analysis.MaxLatencyRatio = 2
		svc.Strategy.Analysis.MinLatencyIncrease = time.Second
		if _, err := h.canaryDeploy(svc, h.release("B", "delay=300"), 8); err != nil {
			t.Fatalf("a canary 280ms slower than stable was rolled back with min_latency_increase 1s: %v", err)
		}
		h.servesOnly("B", 3)
	})
	t.Run("no ratio", func(t *testing.T) {
		h := newHarness(t)
		h.mustDeploy(svc, h.release("A", "delay=20"))
		svc := svc
		svc.Strategy.Analysis.MaxLatencyRatio = 0
		// No error at all on either side is no increase, even when
		// none is allowed.
		svc.Strategy.Analysis.MaxErrorRateIncrease = 0
		if _, err := h.canaryDeploy(svc, h.release("B", "delay=300"), 8); err != nil {
			t.Fatalf("a slow canary was rolled back without max_latency_ratio: %v", err)
		}
		h.servesOnly("B", 3)
	})
	// At 100% the stable release gets no traffic, so there is no p95 to
	// compare with: the canary is judged on its errors alone.
	t.Run("no stable traffic", func(t *testing.T) {
		h := newHarness(t)
		h.mustDeploy(svc, h.release("A", "delay=20"))
		svc := svc
		svc.Strategy.Steps = []spec.CanaryStep{{Weight: 100, Pause: 2 * time.Second}}
		svc.Strategy.Analysis.MaxLatencyRatio = 2
		if _, err := h.canaryDeploy(svc, h.release("B", "delay=300"), 8); err != nil {
			t.Fatalf("a canary at 100%% was compared with a stable release that got no traffic: %v", err)
		}
		h.servesOnly("B", 3)
	})
}

// logWatch is a deploy log that says when a line containing want was
// written.
type logWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.seen != nil && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
		w.seen = nil
	}
	return len(p), nil
}

// canaryWithRequests deploys files as a canary and, once its step has
// begun, sends requests one at a time until exactly n were answered by
// the canary; then it waits for the deploy's verdict.
func (h *harness) canaryWithRequests(svc spec.Service, version string, n int, after time.Duration) (string, error) {
	h.t.Helper()
	h.releases++
	id := fmt.Sprintf("r%d", h.releases)
	seen := make(chan struct{})
	log := &logWatch{want: "canary " + id + " at ", seen: seen}
	done := make(chan error, 1)
	go func() {
		_, err := h.d.Deploy(context.Background(), deploy.Request{
			Service: svc, Environment: spec.Environment{Name: envName},
			Release: id, Files: h.release(version, ""), Log: log,
		})
		done <- err
	}()
	select {
	case <-seen:
	case err := <-done:
		h.t.Fatalf("deploy %s ended before its canary step: %v", id, err)
	}
	time.Sleep(after)
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	canary := 0
	for sent := 0; canary < n; sent++ {
		if sent > 50*n {
			h.t.Fatalf("%d requests sent, %d reached canary %s", sent, canary, id)
		}
		status, body, _, err := get(client, h.proxyURL)
		if err != nil || status != http.StatusOK {
			h.t.Fatalf("request during the canary: %d %q %v", status, body, err)
		}
		if body == "release "+version {
			canary++
		}
	}
	err := <-done
	log.mu.Lock()
	h.t.Logf("deploy %s:\n%s", id, log.buf.String())
	log.mu.Unlock()
	return id, err
}

// The canary is judged on exactly min_requests requests; one fewer is
// too little data, and the deploy says how many came.
func TestCanaryMinRequestsIsInclusive(t *testing.T) {
	h := newHarness(t)
	svc := canaryService()
	// A window of 1s (the least) over a pause of 500ms: every request
	// sent during the step is counted.
	svc.Strategy.Steps = []spec.CanaryStep{{Weight: 50, Pause: 500 * time.Millisecond}}
	svc.Strategy.Analysis.MinRequests = 5
	h.mustDeploy(svc, h.release("A", ""))

	id, err := h.canaryWithRequests(svc, "B", 4, 0)
	if err == nil {
		t.Fatal("a canary that got 4 requests, min_requests 5, was promoted")
	}
	wantIn(t, err.Error(), "canary analysis inconclusive: 4 requests to "+id, "min_requests 5")
	h.servesOnly("A", 10)

	if _, err := h.canaryWithRequests(svc, "C", 5, 0); err != nil {
		t.Fatalf("a canary that got 5 requests, min_requests 5, was not promoted: %v", err)
	}
	h.servesOnly("C", 10)
}

// Traffic that comes only after the step's pause still counts: the
// analysis waits up to the pause again (at least 1s) for min_requests.
func TestCanaryWaitsForLateTraffic(t *testing.T) {
	h := newHarness(t)
	svc := canaryService()
	svc.Strategy.Steps = []spec.CanaryStep{{Weight: 50, Pause: 300 * time.Millisecond}}
	svc.Strategy.Analysis.MinRequests = 5
	h.mustDeploy(svc, h.release("A", ""))
	// The requests start 200ms after the pause ended, leaving 800ms of
	// the extra second for them.
	if _, err := h.canaryWithRequests(svc, "B", 5, 500*time.Millisecond); err != nil {
		t.Fatalf("a canary whose traffic came after its pause was not promoted: %v", err)
	}
	h.servesOnly("B", 5)
}

// servesOnly checks that n sequential requests all get "release
// <version>", whatever their status.
func (h *harness) servesOnly(version string, n int) {
	h.t.Helper()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for range n {
		_, body, _, err := get(client, h.proxyURL)
		if err != nil || !strings.HasPrefix(body, "release "+version) {
			h.t.Fatalf("got %q (%v), want release %s", body, err, version)
		}
	}
}
