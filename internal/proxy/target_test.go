package proxy

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestDrainWaitsForInFlightAndSendsNoNewRequests(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = w.Write([]byte("slow"))
	})
	other := newBackend(t, "other", nil)
	_, ts := f.route(t, "app.test", slow, other)

	slowDone := make(chan int, 1)
	go func() { // round robin: the first request goes to slow
		req, _ := http.NewRequest("GET", f.url+"/slow", nil)
		req.Host = "app.test"
		resp, err := f.client.Do(req)
		if err != nil {
			slowDone <- 0
			return
		}
		resp.Body.Close()
		slowDone <- resp.StatusCode
	}()
	waitFor(t, func() bool { return ts[0].InFlight() == 1 })

	drained := make(chan error, 1)
	go func() { drained <- ts[0].Drain(context.Background(), 5*time.Second) }()
	waitFor(t, func() bool { return ts[0].State() == StateDraining })

	hitsBefore := slow.hits.Load()
	for range 10 {
		if _, body := f.do(t, "GET", "app.test", "/", nil); body != "other" {
			t.Fatalf("draining target got a new request (%q)", body)
		}
	}
	select {
	case err := <-drained:
		t.Fatalf("Drain returned %v with a request in flight", err)
	default:
	}
	close(release)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if code := <-slowDone; code != 200 {
		t.Fatalf("in-flight request finished with %d", code)
	}
	if slow.hits.Load() != hitsBefore {
		t.Fatal("draining target was sent new requests")
	}
	if err := ts[0].WaitHealthy(context.Background()); !errors.Is(err, ErrDraining) {
		t.Fatalf("WaitHealthy on drained target: %v", err)
	}
}

func TestDrainTimesOut(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	defer close(release)
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) { <-release })
	_, ts := f.route(t, "app.test", slow)
	go func() {
		req, _ := http.NewRequest("GET", f.url, nil)
		req.Host = "app.test"
		if resp, err := f.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, func() bool { return ts[0].InFlight() == 1 })
	err := ts[0].Drain(context.Background(), 30*time.Millisecond)
	if !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("err = %v", err)
	}
}

func TestNewTargetRejectsPaths(t *testing.T) {
	f := newFixture(t)
	for _, u := range []string{"127.0.0.1:80", "ftp://x", "http://x/app", "http://x?q=1", "http://"} {
		if _, err := f.p.NewTarget(u); err == nil {
			t.Errorf("NewTarget(%q) accepted", u)
		}
	}
}
