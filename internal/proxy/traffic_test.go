package proxy

import (
	"net/http"
	"testing"
	"time"
)

// A service's traffic is all its releases' requests together, with the
// error rate and percentiles a deployments page shows, and the routes
// are listed once each however many hosts they have.
func TestRouteTrafficSumsItsReleases(t *testing.T) {
	f := newFixture(t)
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(500)
			return
		}
		time.Sleep(30 * time.Millisecond)
	})
	fast := newBackend(t, "fast", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(500)
		}
	})
	r := f.p.NewRoute("prod", "web")
	if err := r.SetGroups([]Group{
		{Release: "r1", Weight: 50, Targets: []*Target{f.target(t, slow.URL)}},
		{Release: "r2", Weight: 50, Targets: []*Target{f.target(t, fast.URL)}},
	}); err != nil {
		t.Fatal(err)
	}
	f.p.SetRoute("web.test", r)
	f.p.SetRoute("www.web.test", r)
	for range 20 {
		f.do(t, "GET", "web.test", "/", nil)
	}
	f.do(t, "GET", "web.test", "/fail", nil)
	waitFor(t, func() bool { return r.Traffic(time.Minute).Requests == 21 })

	st := r.Traffic(time.Minute)
	if slow.hits.Load() == 0 || fast.hits.Load() == 0 {
		t.Fatalf("both releases should have answered: slow %d, fast %d", slow.hits.Load(), fast.hits.Load())
	}
	if st.Errors != 1 || st.ErrorRate() != 1.0/21 {
		t.Errorf("errors %d, rate %v; want the one /fail of 21", st.Errors, st.ErrorRate())
	}
	if st.P50 <= 0 || st.P50 > st.P99 || st.P99 < 30*time.Millisecond {
		t.Errorf("p50 %v, p99 %v: want 0 < p50 <= p99, p99 at least the slow release's 30ms", st.P50, st.P99)
	}
	if st.Covered != time.Minute {
		t.Errorf("covered %v, want the whole minute (the rings are far from full)", st.Covered)
	}
	if routes := f.p.Routes(); len(routes) != 1 || routes[0] != r {
		t.Errorf("Routes() = %v, want the one route of two hosts", routes)
	}
}

// The data path allocates nothing per request, metrics included: a
// busy proxy must not feed the garbage collector.
func TestServeKeepAliveAllocatesNothingPerRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark")
	}
	res := testing.Benchmark(BenchmarkServeKeepAlive)
	if a := res.AllocsPerOp(); a != 0 {
		t.Errorf("%d allocations per proxied request, want 0 (%s)", a, res.MemString())
	}
}
