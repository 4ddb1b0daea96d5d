package proxy

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRoundRobinAcrossReplicas(t *testing.T) {
	f := newFixture(t)
	bs := []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)}
	f.route(t, "app.test", bs...)
	var seq []string
	for range 30 {
		_, body := f.do(t, "GET", "app.test", "/", nil)
		seq = append(seq, body)
	}
	if got := strings.Join(seq[:6], ""); got != "abcabc" {
		t.Fatalf("sequence %q, want abcabc", got)
	}
	for _, b := range bs {
		if b.hits.Load() != 10 {
			t.Errorf("%s got %d of 30", b.name, b.hits.Load())
		}
	}
}

func TestRoundRobinSkipsUnhealthy(t *testing.T) {
	f := newFixture(t)
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	_, ts := f.route(t, "app.test", a, b)
	ts[0].MarkUnhealthy()
	for range 10 {
		if _, body := f.do(t, "GET", "app.test", "/", nil); body != "b" {
			t.Fatalf("got %q from unhealthy target", body)
		}
	}
}

func TestWeightedSplit(t *testing.T) {
	f := newFixture(t)
	stable, canary := newBackend(t, "stable", nil), newBackend(t, "canary", nil)
	r := f.p.NewRoute("prod", "web")
	err := r.SetGroups([]Group{
		{Release: "r2", Weight: 90, Targets: []*Target{f.target(t, stable.URL)}},
		{Release: "r3", Weight: 10, Targets: []*Target{f.target(t, canary.URL)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.p.SetRoute("app.test", r)
	const n = 2000
	for range n {
		if resp, _ := f.do(t, "GET", "app.test", "/", nil); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	share := float64(canary.hits.Load()) / n
	if share < 0.07 || share > 0.13 {
		t.Fatalf("canary got %.1f%% of traffic, want 10%% ± 3", share*100)
	}
	// Samples land after the response is sent, so the last may lag.
	waitFor(t, func() bool { return int64(r.Stats("r3", time.Hour).Requests) == canary.hits.Load() })
}

func TestCanaryWithoutHealthyTargetFallsBackToStable(t *testing.T) {
	f := newFixture(t)
	stable, canary := newBackend(t, "stable", nil), newBackend(t, "canary", nil)
	tc := f.target(t, canary.URL)
	tc.MarkUnhealthy()
	r := f.p.NewRoute("prod", "web")
	_ = r.SetGroups([]Group{
		{Release: "r2", Weight: 50, Targets: []*Target{f.target(t, stable.URL)}},
		{Release: "r3", Weight: 50, Targets: []*Target{tc}},
	})
	f.p.SetRoute("app.test", r)
	for range 20 {
		if resp, body := f.do(t, "GET", "app.test", "/", nil); resp.StatusCode != 200 || body != "stable" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	}
}

func TestLeastInFlightAvoidsBusyTarget(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	fast := newBackend(t, "fast", nil)
	r := f.p.NewRoute("prod", "web")
	ts, tf := f.target(t, slow.URL), f.target(t, fast.URL)
	_ = r.SetGroups([]Group{{Release: "r1", Weight: 100, Policy: LeastInFlight, Targets: []*Target{ts, tf}}})
	f.p.SetRoute("app.test", r)

	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(context.Background(), "GET", f.url, nil)
		req.Host = "app.test"
		if resp, err := f.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	// With nothing in flight the scan starts at the first target: slow.
	waitFor(t, func() bool { return ts.InFlight() == 1 })
	for range 10 {
		if _, body := f.do(t, "GET", "app.test", "/", nil); body != "fast" {
			t.Fatalf("got %q while slow was busy", body)
		}
	}
	close(release)
	<-done
}

func TestSetGroupsValidates(t *testing.T) {
	f := newFixture(t)
	r := f.p.NewRoute("prod", "web")
	for _, g := range [][]Group{
		{{Release: "", Weight: 10}},
		{{Release: "a", Weight: 101}},
		{{Release: "a", Weight: -1}},
		{{Release: "a", Weight: 10}, {Release: "a", Weight: 10}},
		{{Release: "a", Weight: 0}},
		{{Release: "a", Weight: 10, Targets: []*Target{nil}}},
	} {
		if err := r.SetGroups(g); err == nil {
			t.Errorf("SetGroups(%+v) accepted", g)
		}
	}
}

// waitFor polls cond for up to 5s.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
