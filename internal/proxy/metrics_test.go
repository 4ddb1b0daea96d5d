package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsCountWithLabels(t *testing.T) {
	f := newFixture(t)
	b := newBackend(t, "app", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(500)
		}
	})
	r, _ := f.route(t, "app.test", b)
	for _, path := range []string{"/", "/", "/", "/fail"} {
		f.do(t, "GET", "app.test", path, nil)
	}
	waitFor(t, func() bool { return r.Stats("r1", time.Hour).Requests == 4 })

	want := `
# HELP velocity_proxy_requests_total Requests proxied, by response status code.
# TYPE velocity_proxy_requests_total counter
velocity_proxy_requests_total{code="200",environment="prod",release="r1",service="web"} 3
velocity_proxy_requests_total{code="500",environment="prod",release="r1",service="web"} 1
# HELP velocity_proxy_in_flight Requests currently being proxied.
# TYPE velocity_proxy_in_flight gauge
velocity_proxy_in_flight{environment="prod",release="r1",service="web"} 0
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), "velocity_proxy_requests_total", "velocity_proxy_in_flight"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(f.p.metrics.duration, "velocity_proxy_request_duration_seconds"); n != 1 {
		t.Fatalf("%d duration series, want 1", n)
	}
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "velocity_proxy_request_duration_seconds" {
			if c := mf.GetMetric()[0].GetHistogram().GetSampleCount(); c != 4 {
				t.Fatalf("histogram count %d, want 4", c)
			}
		}
	}

}

func TestRetiredReleaseSeriesOutliveRemovalThenGo(t *testing.T) {
	const retention = 300 * time.Millisecond
	f := newFixtureWith(t, viaServe, Options{MetricsRetention: retention})
	b := newBackend(t, "app", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(500)
		}
	})
	r, ts := f.route(t, "app.test", b)
	for range 3 {
		f.do(t, "GET", "app.test", "/fail", nil) // a failing canary
	}
	waitFor(t, func() bool { return r.Stats("r1", time.Hour).Requests == 3 })
	failed := func() float64 {
		return testutil.ToFloat64(f.p.metrics.requests.WithLabelValues("prod", "web", "r1", "500"))
	}
	r1Series := func() int {
		n := 0
		mfs, err := f.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "release" && l.GetValue() == "r1" {
						n++
					}
				}
			}
		}
		return n
	}

	// r1 is aborted: a scrape right after still sees its 500s.
	removed := time.Now()
	if err := r.SetGroups([]Group{{Release: "r2", Weight: 100, Targets: ts}}); err != nil {
		t.Fatal(err)
	}
	if n := r1Series(); n != 3 { // requests{code=500}, duration, in_flight
		t.Fatalf("%d r1 series right after removal, want 3", n)
	}
	if v := failed(); v != 3 {
		t.Fatalf("r1 500s after removal: %v", v)
	}
	waitFor(t, func() bool { return r1Series() == 0 })
	if kept := time.Since(removed); kept < retention {
		t.Fatalf("r1 series deleted after %v, before the %v retention", kept, retention)
	}

	// A release back in the route before its series expire keeps them.
	if err := r.SetGroups([]Group{{Release: "r1", Weight: 100, Targets: ts}}); err != nil {
		t.Fatal(err)
	}
	f.do(t, "GET", "app.test", "/fail", nil)
	if err := r.SetGroups([]Group{{Release: "r2", Weight: 100, Targets: ts}}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetGroups([]Group{{Release: "r1", Weight: 100, Targets: ts}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * retention)
	if v := failed(); v != 1 {
		t.Fatalf("r1 500s after a rollback to it: %v, want the 1 kept", v)
	}
}

func TestStatsErrorRateAndP95(t *testing.T) {
	f := newFixture(t)
	b := newBackend(t, "app", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(503)
		case "/slow":
			time.Sleep(60 * time.Millisecond)
		}
	})
	r, _ := f.route(t, "app.test", b)
	for i := range 100 {
		path := "/"
		switch {
		case i%20 == 0:
			path = "/fail" // 5 errors
		case i%10 == 5:
			path = "/slow" // 10 slow
		}
		f.do(t, "GET", "app.test", path, nil)
	}
	waitFor(t, func() bool { return r.Stats("r1", time.Hour).Requests == 100 })
	st := r.Stats("r1", time.Minute)
	if st.Errors != 5 || st.ErrorRate() != 0.05 {
		t.Fatalf("errors %d rate %v, want 5 / 0.05", st.Errors, st.ErrorRate())
	}
	if st.P95 < 60*time.Millisecond || st.P95 > time.Second {
		t.Fatalf("p95 %v, want the slow requests' ~60ms", st.P95)
	}
	if got := r.Stats("nope", time.Minute); got != (Stats{}) {
		t.Fatalf("unknown release stats %+v", got)
	}
}

func TestSampleRingWindow(t *testing.T) {
	var ring sampleRing
	now := time.Now()
	for i := range 100 {
		// One sample per second going back; durations 1..100ms; every 10th an error.
		ring.add(now.Add(-time.Duration(i)*time.Second), time.Duration(i+1)*time.Millisecond, i%10 == 0)
	}
	st := ring.stats(now, 20*time.Second) // samples 0..20 (21 of them)
	if st.Requests != 21 || st.Errors != 3 {
		t.Fatalf("window stats %+v, want 21 requests 3 errors", st)
	}
	if st.P95 != 20*time.Millisecond { // nearest rank: ceil(0.95*21)=20th of 1..21ms
		t.Fatalf("p95 %v", st.P95)
	}
	for range ringSize { // overwrite everything with fresh fast samples
		ring.add(now, time.Millisecond, false)
	}
	if st := ring.stats(now, time.Hour); st.Requests != ringSize || st.Errors != 0 || st.P95 != time.Millisecond {
		t.Fatalf("after wrap %+v", st)
	}
}

func TestProxyErrorsCountAsErrors(t *testing.T) {
	f := newFixture(t)
	dead := newBackend(t, "dead", nil)
	dead.Close()
	r, _ := f.route(t, "app.test", dead)
	f.do(t, "POST", "app.test", "/", strings.NewReader("x")) // 502
	f.do(t, "GET", "app.test", "/", nil)                     // 503: no healthy target left
	waitFor(t, func() bool { return r.Stats("r1", time.Hour).Requests == 2 })
	if st := r.Stats("r1", time.Hour); st.Errors != 2 {
		t.Fatalf("stats %+v, want 2 errors", st)
	}
	if v := testutil.ToFloat64(f.p.metrics.requests.WithLabelValues("prod", "web", "r1", "502")); v != 1 {
		t.Fatalf("502 counter %v", v)
	}
}
