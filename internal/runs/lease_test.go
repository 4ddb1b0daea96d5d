package runs

import (
	"context"
	"errors"
	"slices"
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
