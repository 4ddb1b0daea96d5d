package releases_test

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/velocity-ci/velocity/internal/releases"
)

// deployLog is a Meter keeping what it was told.
type deployLog struct {
	mu   sync.Mutex
	ends []releases.DeployEnd
}

func (l *deployLog) DeployFinished(d releases.DeployEnd) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ends = append(l.ends, d)
}

// The host's meter hears of each deploy and rollback, and Traffic sums
// up the requests the proxy sent to a service in the last minute.
func TestMeterAndTrafficOfAHost(t *testing.T) {
	d := newData(t)
	cfg := d.config()
	meter := &deployLog{}
	cfg.Meter = meter
	host, err := releases.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	svc := host.Service()
	ctx := context.Background()
	if got := svc.Traffic(); len(got) != 0 {
		t.Errorf("traffic before any deploy: %v", got)
	}
	for _, r := range []string{"one", "two"} {
		if _, err := svc.Deploy(ctx, request("r-"+r, 1, d.files(t, r)), io.Discard); err != nil {
			t.Fatalf("deploy %s: %v", r, err)
		}
	}
	if _, err := svc.Rollback(ctx, releases.RollbackRequest{Environment: "prod", Service: "web"}, io.Discard); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	for range 10 {
		if got, err := answer(host.ProxyURL()); err != nil || got != "200 release one" {
			t.Fatalf("through the proxy: %s %v", got, err)
		}
	}

	tr, ok := svc.Traffic()["prod/web"]
	if !ok {
		t.Fatalf("no traffic for prod/web: %v", svc.Traffic())
	}
	// Ten requests within the last minute: at least 10/60 a second.
	if tr.RequestsPerSecond < 10.0/60 || tr.ErrorRate != 0 || tr.P50 <= 0 || tr.P99 < tr.P50 {
		t.Errorf("traffic %+v: want >= 1/6 requests a second, no errors, 0 < p50 <= p99", tr)
	}

	meter.mu.Lock()
	defer meter.mu.Unlock()
	if len(meter.ends) != 3 {
		t.Fatalf("meter told of %d deploys, want 3: %+v", len(meter.ends), meter.ends)
	}
	for i, want := range []struct {
		release  string
		rollback bool
	}{{"r-one", false}, {"r-two", false}, {"r-one", true}} {
		e := meter.ends[i]
		if e.Release != want.release || e.Rollback != want.rollback || e.Err != nil || e.Project != "app" ||
			e.Environment != "prod" || e.Service != "web" || e.Duration <= 0 {
			t.Errorf("deploy %d: %+v, want release %s rollback %v live", i, e, want.release, want.rollback)
		}
	}
}
