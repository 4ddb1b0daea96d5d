package executions

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// nodeService is the executions service of a node: its own data
// directory, the journal st that every node shares, leases of ttl.
func nodeService(t *testing.T, st *sqlite.Store, dir string, ttl time.Duration) *Service {
	t.Helper()
	s := New(context.Background(), Config{Store: st, Leases: st, LeaseTTL: ttl, DataDir: dir, Poll: 20 * time.Millisecond})
	t.Cleanup(s.Close)
	return s
}

// napDefinition marks a file in work, waits two seconds, and passes the
// mark's output on.
const napDefinition = `{"StartAt": "Mark", "States": {
	"Mark": {"Type": "Task", "Resource": "arn:velocity:command", "Next": "Nap",
		"Parameters": {"Command": "echo ran >> marks; echo '{\"marked\": true}'"}},
	"Nap": {"Type": "Wait", "Seconds": 2, "Next": "Done"},
	"Done": {"Type": "Pass", "End": true}}}`

// deadNodeExecutions starts n executions of napDefinition on a node
// with data directory dir, lets them reach their Wait (the mark is
// journaled), and leaves them as a node killed then leaves them: live,
// their lock files free, their leases held by a holder that stopped
// renewing them and has expired (returned). The node's lock files are
// gone, as on a machine of its own.
func deadNodeExecutions(t *testing.T, st *sqlite.Store, dir, work string, n int) ([]store.Execution, string) {
	t.Helper()
	ctx := context.Background()
	node := nodeService(t, st, dir, time.Second)
	def := writeDefinition(t, work, "nap.asl.json", napDefinition)
	var out []store.Execution
	var done []<-chan struct{}
	for range n {
		run, err := node.Start(ctx, StartRequest{Dir: work, Definition: def, Input: []byte(`{}`), ConcurrencyLimit: 1})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, run.Execution)
		done = append(done, run.Background(Progress{}))
	}
	for _, e := range out {
		waitFor(t, "the execution waits", func() bool { return entered(t, node, e.ID)["Nap"] == 1 })
	}
	node.Abandon()
	for _, d := range done {
		<-d
	}
	// A holder of this machine, as the nodes of a test run here.
	dead := node.host + "/7/dead"
	for _, e := range out {
		if _, err := st.AcquireLease(ctx, store.ExecutionLease(e.ID), dead, time.Second, time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	return out, dead
}

// entered counts, by state name, the states an execution's history
// entered.
func entered(t *testing.T, s *Service, id int64) map[string]int {
	t.Helper()
	events, err := s.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, ev := range events {
		if !strings.HasSuffix(string(ev.Type), "StateEntered") {
			continue
		}
		var d struct{ Name string }
		if err := json.Unmarshal(ev.Details, &d); err != nil {
			t.Fatal(err)
		}
		n[d.Name]++
	}
	return n
}

// waitEnded waits until execution id has ended, and returns it.
func waitEnded(t *testing.T, st *sqlite.Store, id int64) store.Execution {
	t.Helper()
	var e store.Execution
	waitFor(t, "the execution ends", func() bool {
		var err error
		e, err = st.Execution(context.Background(), id)
		return err == nil && e.Status.Final()
	})
	return e
}

// An execution whose node died is taken over by another node once its
// lease expired and nobody holds its lock file, and carries on from its
// history: the task that finished before does not run again. A lease
// that a live holder keeps, a lock file that a process holds, a store
// without leases, or the data directory of the dead node itself (whose
// own resumer sees its lock) keep the node from taking it.
func TestAnotherNodeTakesOverAnExpiredExecution(t *testing.T) {
	ctx := context.Background()
	dataA, dataB, work := t.TempDir(), t.TempDir(), t.TempDir()
	st := openStore(t, dataA)
	dead, deadHolder := deadNodeExecutions(t, st, dataA, work, 1)
	e := dead[0]
	name := store.ExecutionLease(e.ID)
	b := nodeService(t, st, dataB, time.Second)

	takes := func(s *Service) int {
		t.Helper()
		n, err := s.TakeOverExpired(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := takes(New(ctx, Config{Store: st, DataDir: dataB})); n != 0 {
		t.Errorf("without leases %d executions were taken over; want none", n)
	}
	if n := takes(nodeService(t, st, dataA, time.Second)); n != 0 {
		t.Errorf("the dead node's own data directory took over %d executions by their leases; want none (its resumer does)", n)
	}
	// The lock file, if here, is held: its owner lives.
	lock, err := lockfile.Acquire(e.Lock)
	if err != nil {
		t.Fatal(err)
	}
	if n := takes(b); n != 0 {
		t.Errorf("took over %d executions whose lock is held; want none", n)
	}
	lock.Release()
	// A live holder renews the lease.
	if err := st.ReleaseLease(ctx, name, deadHolder); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcquireLease(ctx, name, "live-node/8/def", time.Minute, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := takes(b); n != 0 {
		t.Errorf("took over %d executions whose lease is live; want none", n)
	}
	// It stops renewing it.
	if _, err := st.AcquireLease(ctx, name, "live-node/8/def", time.Second, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}

	var told []string
	n, err := b.TakeOverExpired(ctx, func(e store.Execution) { told = append(told, e.Name) })
	if err != nil || n != 1 || len(told) != 1 || told[0] != e.Name {
		t.Fatalf("TakeOverExpired took over %d (%v), told of %v; want %s", n, err, told, e.Name)
	}
	if l, err := st.Lease(ctx, name); err != nil || l.Holder != b.holder {
		t.Errorf("the lease after the takeover: %+v (%v); want held by %s", l, err, b.holder)
	}
	if n := takes(b); n != 0 {
		t.Errorf("took over %d executions it runs already", n)
	}
	if n := takes(nodeService(t, st, t.TempDir(), time.Second)); n != 0 {
		t.Errorf("a third node took over %d executions the second runs", n)
	}
	// The dead node's lock file, noting its holder, is back on its
	// machine (this one): its resumer leaves the execution to the node
	// that took it over.
	if err := os.WriteFile(e.Lock, []byte(deadHolder), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := nodeService(t, st, dataA, time.Second).ResumeOrphans(ctx, nil); err != nil || n != 0 {
		t.Errorf("the dead node's resumer took over %d (%v) executions another node runs; want none", n, err)
	}

	end := waitEnded(t, st, e.ID)
	if end.Status != store.ExecutionSucceeded || string(end.Output) != `{"marked":true}` {
		t.Errorf("the execution ended %s with %s (%s: %s)", end.Status, end.Output, end.Error, end.Cause)
	}
	if marks := strings.Fields(readText(t, filepath.Join(work, "marks"))); len(marks) != 1 {
		t.Errorf("the task ran %d times; want once", len(marks))
	}
	for state, n := range entered(t, b, e.ID) {
		if n != 1 {
			t.Errorf("state %s entered %d times; want once", state, n)
		}
	}
	if _, err := st.Lease(ctx, name); err == nil {
		t.Error("the lease outlived the execution")
	}
}

// Of two nodes looking for dead executions at once, exactly one takes
// each over.
func TestTwoNodesRaceForADeadNodesExecutions(t *testing.T) {
	ctx := context.Background()
	dataA, work := t.TempDir(), t.TempDir()
	st := openStore(t, dataA)
	dead, _ := deadNodeExecutions(t, st, dataA, work, 3)
	nodes := []*Service{nodeService(t, st, t.TempDir(), time.Second), nodeService(t, st, t.TempDir(), time.Second)}

	var mu sync.Mutex
	takenBy := map[int64][]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range nodes {
		wg.Go(func() {
			<-start
			if _, err := s.TakeOverExpired(ctx, func(e store.Execution) {
				mu.Lock()
				defer mu.Unlock()
				takenBy[e.ID] = append(takenBy[e.ID], i)
			}); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, e := range dead {
		if len(takenBy[e.ID]) != 1 {
			t.Errorf("execution %d was taken over by nodes %v; want exactly one", e.ID, takenBy[e.ID])
		}
	}
	for _, e := range dead {
		if end := waitEnded(t, st, e.ID); end.Status != store.ExecutionSucceeded {
			t.Errorf("execution %d ended %s (%s: %s)", e.ID, end.Status, end.Error, end.Cause)
		}
		if n := entered(t, nodes[0], e.ID)["Done"]; n != 1 {
			t.Errorf("execution %d entered its last state %d times", e.ID, n)
		}
	}
	if marks := strings.Fields(readText(t, filepath.Join(work, "marks"))); len(marks) != len(dead) {
		t.Errorf("the tasks ran %d times for %d executions; want once each", len(marks), len(dead))
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A process that loses an execution's lease (cut off from the store
// longer than its TTL, and another node took the execution over) stops
// running it, leaving it as journaled to the new holder.
func TestAnExecutionWhoseLeaseIsLostStopsHere(t *testing.T) {
	ctx := context.Background()
	data, work := t.TempDir(), t.TempDir()
	st := openStore(t, data)
	s := nodeService(t, st, data, 300*time.Millisecond)
	def := writeDefinition(t, work, "long.asl.json", `{"StartAt": "Nap", "States": {
		"Nap": {"Type": "Wait", "Seconds": 60, "End": true}}}`)
	run, err := s.Start(ctx, StartRequest{Dir: work, Definition: def, Input: []byte(`{}`), ConcurrencyLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	id := run.Execution.ID
	done := run.Background(Progress{})
	waitFor(t, "the execution waits", func() bool { return entered(t, s, id)["Nap"] == 1 })

	name := store.ExecutionLease(id)
	if err := st.ReleaseLease(ctx, name, s.holder); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcquireLease(ctx, name, "other-node/9/ghi", time.Minute, time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the execution still runs here 5s after its lease was lost")
	}
	if e, _ := st.Execution(ctx, id); e.Status.Final() {
		t.Errorf("the execution was recorded %s after its lease was lost; want it left live", e.Status)
	}
	if l, err := st.Lease(ctx, name); err != nil || l.Holder != "other-node/9/ghi" {
		t.Errorf("the lease is %+v (%v); want the new holder's", l, err)
	}
}
