package runs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// While a run executes, the store names the process that executes it,
// with a lease that has not expired; once it ends, nobody holds it.
func TestRunningRunHoldsItsLease(t *testing.T) {
	svc := newService(t)
	dir := project(t, `
stages:
  - name: build
    actions:
      - { name: hang, run: "echo started; sleep 100" }
`)
	ctx := context.Background()
	id, err := svc.Start(ctx, StartRequest{Dir: dir, Jobs: 1, KillGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	events, err := svc.Watch(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, events, func(e Event) bool { return e.Output != nil && e.Output.Text == "started" })
	if got := svc.Executing(); !slices.Equal(got, []int64{id}) {
		t.Errorf("executing %v, want [%d]", got, id)
	}
	leases := svc.cfg.Leases
	l, err := leases.Lease(ctx, store.RunLease(id))
	if err != nil {
		t.Fatalf("no lease while run %d executes: %v", id, err)
	}
	if l.Holder != svc.holder || !l.Expires.After(time.Now()) {
		t.Errorf("lease %+v; want one of %s that has not expired", l, svc.holder)
	}
	if err := svc.Cancel(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	collect(t, events)
	if _, err := svc.Wait(ctx, id); err != nil {
		t.Fatal(err)
	}
	if l, err := leases.Lease(ctx, store.RunLease(id)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the run the lease is %+v (%v); want none", l, err)
	}
}

// The lease is taken as the run is recorded, before anything executes:
// another node sharing the store, which sees the record but not this
// machine's lock file, never finds a live run without an owner. A run
// whose lease another holder has is recorded failed, having run nothing.
func TestRunTakesItsLeaseWhenRecorded(t *testing.T) {
	svc := newService(t)
	marker := filepath.Join(t.TempDir(), "ran")
	dir := project(t, `
stages:
  - name: build
    actions:
      - { name: touch, run: "touch `+marker+`" }
`)
	ctx := context.Background()
	// A fresh journal numbers its first run 1.
	if _, err := svc.cfg.Leases.AcquireLease(ctx, store.RunLease(1), "other-node/1/x", time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Start(ctx, StartRequest{Dir: dir, Jobs: 1})
	if !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("start with the run's lease held elsewhere: %v; want ErrLeaseHeld", err)
	}
	r, err := svc.cfg.Store.Run(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.Failed {
		t.Errorf("run 1 is %s, want failed", r.Status)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the action ran without the run's lease")
	}
}

// A run whose lease is lost (the store unreachable for longer than the
// lease, and another node holding it since) stops, and leaves the run's
// record to the node that took it: two executions would deploy twice.
func TestRunStopsWhenItsLeaseIsLost(t *testing.T) {
	svc := newService(t)
	svc.cfg.LeaseTTL = 300 * time.Millisecond
	dir := project(t, `
stages:
  - name: build
    actions:
      - { name: hang, run: "echo started; sleep 100" }
`)
	ctx := context.Background()
	id, err := svc.Start(ctx, StartRequest{Dir: dir, Jobs: 1, KillGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	events, err := svc.Watch(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, events, func(e Event) bool { return e.Output != nil && e.Output.Text == "started" })
	leases := svc.cfg.Leases
	if err := leases.ReleaseLease(ctx, store.RunLease(id), svc.holder); err != nil {
		t.Fatal(err)
	}
	if _, err := leases.AcquireLease(ctx, store.RunLease(id), "other-node/1/x", time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	collect(t, events)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := svc.Wait(wctx, id)
	if err != nil || res.Err == nil || !strings.Contains(res.Err.Error(), "lease was lost") {
		t.Fatalf("run %d ended with %v (%v); want its lease lost", id, res.Err, err)
	}
	if r, err := svc.cfg.Store.Run(ctx, id); err != nil || r.Status != store.Running {
		t.Errorf("run %+v (%v); want the record left to the other node", r, err)
	}
}
