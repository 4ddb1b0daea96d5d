package executions

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// leasedService is a service whose store records leases, as velocity's
// own is; both services of a test share one journal, as two processes on
// one data directory do.
func leasedService(t *testing.T, st *sqlite.Store, dir string) *Service {
	t.Helper()
	s := New(context.Background(), Config{Store: st, Leases: st, DataDir: dir, Poll: 20 * time.Millisecond})
	t.Cleanup(s.Close)
	return s
}

func openStore(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// While an execution runs, the store says which process runs it; once it
// ends, nobody holds it.
func TestRunningExecutionHoldsItsLease(t *testing.T) {
	ctx := context.Background()
	data, work := t.TempDir(), t.TempDir()
	st := openStore(t, data)
	s := leasedService(t, st, data)
	def := writeDefinition(t, work, "slow.asl.json", `{"StartAt": "Slow", "States": {
		"Slow": {"Type": "Task", "Resource": "arn:velocity:command", "End": true,
			"Parameters": {"Command": "touch started; exec sleep 60"}}}}`)
	run, err := s.Start(ctx, StartRequest{Dir: work, Definition: def, Input: []byte(`{}`), ConcurrencyLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	id := run.Execution.ID
	done := make(chan error, 1)
	go func() { _, err := run.Wait(ctx, Progress{}); done <- err }()
	waitFor(t, "the task runs", func() bool { _, err := os.Stat(filepath.Join(work, "started")); return err == nil })

	l, err := st.Lease(ctx, store.ExecutionLease(id))
	if err != nil {
		t.Fatalf("no lease while the execution runs: %v", err)
	}
	if l.Holder != s.holder || !l.Expires.After(time.Now()) {
		t.Errorf("lease %+v; want one held by %s, not expired", l, s.holder)
	}
	if _, err := s.Stop(ctx, run.Execution, "Test.Stop", "done"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l, err := st.Lease(ctx, store.ExecutionLease(id)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the end the lease is %+v (%v); want none", l, err)
	}
}

// An execution whose process let go of it is taken over by another
// process only when no live holder elsewhere keeps its lease; a holder on
// this machine whose lock is free is dead, and its lease no obstacle.
func TestOrphanIsAdoptedOnlyWhenItsLeaseIsFree(t *testing.T) {
	ctx := context.Background()
	data, work := t.TempDir(), t.TempDir()
	st := openStore(t, data)
	first := leasedService(t, st, data)
	def := writeDefinition(t, work, "quick.asl.json", `{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`)
	run, err := first.Start(ctx, StartRequest{Dir: work, Definition: def, Input: []byte(`{"a":1}`), ConcurrencyLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	id := run.Execution.ID
	run.Detach(ctx) // no resumer is configured: it stays PENDING, its lock free
	name := store.ExecutionLease(id)

	// Another machine's process holds it.
	other := "elsewhere/42/abc"
	if _, err := st.AcquireLease(ctx, name, other, time.Minute, time.Now()); err != nil {
		t.Fatal(err)
	}
	second := leasedService(t, st, data)
	if n, err := second.ResumeOrphans(ctx, nil); err != nil || n != 0 {
		t.Fatalf("ResumeOrphans took over %d (%v) while another machine holds the lease; want 0", n, err)
	}
	if e, _ := st.Execution(ctx, id); e.Status.Final() {
		t.Fatalf("execution ran to %s under another holder's lease", e.Status)
	}
	if err := st.ReleaseLease(ctx, name, other); err != nil {
		t.Fatal(err)
	}

	// A process of this machine held it and died (its lock is free).
	host, _, _ := strings.Cut(second.holder, "/")
	dead := host + "/1/dead"
	if _, err := st.AcquireLease(ctx, name, dead, time.Minute, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := second.ResumeOrphans(ctx, nil); err != nil || n != 1 {
		t.Fatalf("ResumeOrphans took over %d (%v); want the execution a dead local holder left", n, err)
	}
	if e, _ := st.Execution(ctx, id); e.Status != store.ExecutionSucceeded {
		t.Errorf("adopted execution ended %s; want SUCCEEDED", e.Status)
	}
}
