package proxy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestActiveHealthThresholds(t *testing.T) {
	f := newFixture(t)
	var status atomic.Int32
	status.Store(200)
	var checks atomic.Int64
	b := newBackend(t, "app", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			checks.Add(1)
			w.WriteHeader(int(status.Load()))
		}
	})
	tg := f.target(t, b.URL)
	stop := tg.StartHealthCheck(context.Background(), HealthCheck{Path: "/healthz", Interval: 5 * time.Millisecond, Healthy: 3, Unhealthy: 2})
	defer stop()
	if tg.State() != StateUnhealthy {
		t.Fatalf("a freshly checked target is %s, want unhealthy until it passes", tg.State())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if n := checks.Load(); n < 3 {
		t.Fatalf("healthy after %d checks, want 3", n)
	}

	status.Store(503)
	before := checks.Load()
	waitFor(t, func() bool { return tg.State() == StateUnhealthy })
	if n := checks.Load() - before; n < 2 {
		t.Fatalf("unhealthy after %d failed checks, want 2", n)
	}
	res, ok := tg.LastCheck()
	if !ok || res.OK() || res.String() != "GET /healthz: 503 Service Unavailable" {
		t.Fatalf("last check %q ok=%v", res, ok)
	}

	status.Store(200)
	waitFor(t, func() bool { return tg.State() == StateHealthy })
}

func TestWaitHealthyReportsLastCheck(t *testing.T) {
	f := newFixture(t)
	dead := newBackend(t, "dead", nil)
	dead.Close()
	tg := f.target(t, dead.URL)
	stop := tg.StartHealthCheck(context.Background(), HealthCheck{Interval: 5 * time.Millisecond}) // TCP check
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := tg.WaitHealthy(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "dial tcp") {
		t.Fatalf("err = %v", err)
	}
}

func TestHealthCheckRevivesPassivelyFailedTarget(t *testing.T) {
	f := newFixture(t)
	b := newBackend(t, "app", nil)
	tg := f.target(t, b.URL)
	stop := tg.StartHealthCheck(context.Background(), HealthCheck{Interval: 5 * time.Millisecond})
	defer stop()
	waitFor(t, func() bool { return tg.State() == StateHealthy })
	tg.MarkUnhealthy() // as a failed dial would
	waitFor(t, func() bool { return tg.State() == StateHealthy })
}
