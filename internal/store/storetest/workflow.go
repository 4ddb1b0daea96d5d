package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// RunWorkflows runs the workflow journal's suite; open returns an empty
// store for each subtest.
func RunWorkflows(t *testing.T, open func(t *testing.T) store.Workflows) {
	t.Run("ExecutionLifecycle", func(t *testing.T) { testExecutionLifecycle(t, open(t)) })
	t.Run("ConcurrencyKeyFIFO", func(t *testing.T) { testConcurrencyKey(t, open(t)) })
	t.Run("GroupCommittedAppends", func(t *testing.T) { testGroupCommit(t, open(t)) })
	t.Run("StopAndRedrive", func(t *testing.T) { testStopAndRedrive(t, open(t)) })
	t.Run("TreeLimits", func(t *testing.T) { testTreeLimits(t, open(t)) })
	t.Run("ConcurrentChildrenWithinLimit", func(t *testing.T) { testConcurrentChildren(t, open(t)) })
	t.Run("StopTree", func(t *testing.T) { testStopTree(t, open(t)) })
	t.Run("TaskTokens", func(t *testing.T) { testTaskTokens(t, open(t)) })
	t.Run("ExecutionListing", func(t *testing.T) { testExecutionListing(t, open(t)) })
}

func execution(name, key string, limit int) store.Execution {
	return store.Execution{
		ARN:  "arn:aws:states:us-east-1:123456789012:execution:sm:" + name,
		Name: name, StateMachine: "sm", Definition: []byte(`{"StartAt":"A"}`), Input: []byte(`{"n":1}`),
		ConcurrencyKey: key, ConcurrencyLimit: limit, Lock: "/locks/" + name, Options: []byte(`{}`),
		Created: time.Unix(100, 0),
	}
}

func createExecution(t *testing.T, s store.Workflows, e store.Execution) int64 {
	t.Helper()
	id, err := s.CreateExecution(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func claim(t *testing.T, s store.Workflows, id int64) bool {
	t.Helper()
	ok, err := s.ClaimExecution(ctx, id, time.Unix(200, 0))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func testExecutionLifecycle(t *testing.T, s store.Workflows) {
	id := createExecution(t, s, execution("one", "", 0))
	if _, err := s.CreateExecution(ctx, execution("one", "", 0)); !errors.Is(err, store.ErrExists) {
		t.Errorf("second execution with the same ARN: %v", err)
	}
	e, err := s.Execution(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != store.ExecutionPending || e.Name != "one" || string(e.Input) != `{"n":1}` || e.ConcurrencyLimit != 1 ||
		!e.Created.Equal(time.Unix(100, 0)) || e.Lock != "/locks/one" {
		t.Errorf("created %+v", e)
	}
	if !claim(t, s, id) || !claim(t, s, id) {
		t.Fatal("an execution without a concurrency key must run at once (and stay running)")
	}
	byARN, err := s.ExecutionByARN(ctx, e.ARN)
	if err != nil || byARN.ID != id || byARN.Status != store.ExecutionRunning || !byARN.Started.Equal(time.Unix(200, 0)) {
		t.Errorf("by ARN: %+v %v", byARN, err)
	}
	live, _ := s.LiveExecutions(ctx)
	if len(live) != 1 || live[0].ID != id {
		t.Errorf("live %+v", live)
	}
	if err := s.FinishExecution(ctx, id, store.ExecutionSucceeded, []byte(`{"ok":true}`), "", "", time.Unix(300, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishExecution(ctx, id, store.ExecutionFailed, nil, "E", "C", time.Unix(301, 0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("finishing a finished execution: %v", err)
	}
	e, _ = s.Execution(ctx, id)
	if e.Status != store.ExecutionSucceeded || string(e.Output) != `{"ok":true}` || !e.Stopped.Equal(time.Unix(300, 0)) || !e.Status.Final() {
		t.Errorf("finished %+v", e)
	}
	if live, _ := s.LiveExecutions(ctx); len(live) != 0 {
		t.Errorf("finished execution still live: %+v", live)
	}
	if _, err := s.Execution(ctx, id+100); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown execution: %v", err)
	}
	if _, err := s.ExecutionByARN(ctx, "arn:nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown ARN: %v", err)
	}
	if _, err := s.ClaimExecution(ctx, id+100, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("claiming an unknown execution: %v", err)
	}
}

func testConcurrencyKey(t *testing.T, s store.Workflows) {
	a := createExecution(t, s, execution("a", "acct-1", 1))
	b := createExecution(t, s, execution("b", "acct-1", 1))
	other := createExecution(t, s, execution("other", "acct-2", 1))
	c := createExecution(t, s, execution("c", "acct-1", 1))
	if claim(t, s, b) {
		t.Fatal("b ran before a, which was queued first")
	}
	if !claim(t, s, a) {
		t.Fatal("a, first in its queue with a free slot, did not run")
	}
	if !claim(t, s, other) {
		t.Fatal("another key's execution must not wait for acct-1")
	}
	if claim(t, s, b) || claim(t, s, c) {
		t.Fatal("a second acct-1 execution ran while the limit is 1")
	}
	s.FinishExecution(ctx, a, store.ExecutionSucceeded, []byte(`{}`), "", "", time.Unix(300, 0))
	if claim(t, s, c) {
		t.Fatal("c jumped the queue ahead of b")
	}
	if !claim(t, s, b) {
		t.Fatal("b did not run once a finished")
	}
	s.FinishExecution(ctx, b, store.ExecutionFailed, nil, "E", "C", time.Unix(300, 0))
	if !claim(t, s, c) {
		t.Fatal("c did not run once b finished")
	}

	// A limit of 2 lets two run.
	x := createExecution(t, s, execution("x", "wide", 2))
	y := createExecution(t, s, execution("y", "wide", 2))
	z := createExecution(t, s, execution("z", "wide", 2))
	if !claim(t, s, x) || !claim(t, s, y) || claim(t, s, z) {
		t.Fatal("limit 2: want x and y running, z waiting")
	}

	// Claims racing for one slot: exactly one wins.
	var ids []int64
	for i := range 8 {
		ids = append(ids, createExecution(t, s, execution(fmt.Sprint("race", i), "race", 1)))
	}
	var wins sync.WaitGroup
	won := make(chan int64, len(ids))
	for _, id := range ids {
		wins.Add(1)
		go func() {
			defer wins.Done()
			if ok, err := s.ClaimExecution(ctx, id, time.Now()); err == nil && ok {
				won <- id
			}
		}()
	}
	wins.Wait()
	close(won)
	var winners []int64
	for id := range won {
		winners = append(winners, id)
	}
	if len(winners) != 1 || winners[0] != ids[0] {
		t.Errorf("racing claims: winners %v, want only the first queued %d", winners, ids[0])
	}
}

func event(id int64, typ string) store.Event {
	return store.Event{ID: id, Type: typ, At: time.Unix(0, id*1e6), Body: []byte(fmt.Sprintf(`{"id":%d,"type":%q}`, id, typ))}
}

func testGroupCommit(t *testing.T, s store.Workflows) {
	id := createExecution(t, s, execution("many", "", 0))
	claim(t, s, id)
	// 100 writers at once, as a Map with MaxConcurrency 100 would append.
	const writers, each = 100, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := int64(w*each + i + 1)
				if err := s.AppendEvents(ctx, id, []store.Event{event(n, "PassStateEntered")}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each {
		t.Fatalf("%d events, want %d", len(got), writers*each)
	}
	for i, e := range got {
		if e.ID != int64(i+1) || e.Type != "PassStateEntered" || string(e.Body) != string(event(e.ID, e.Type).Body) ||
			!e.At.Equal(time.Unix(0, e.ID*1e6)) {
			t.Fatalf("event %d: %+v", i, e)
		}
	}

	// A duplicate fails its own call only, not the others of its group.
	var dup, fresh error
	wg.Add(2)
	go func() { defer wg.Done(); dup = s.AppendEvents(ctx, id, []store.Event{event(5, "Again")}) }()
	go func() {
		defer wg.Done()
		fresh = s.AppendEvents(ctx, id, []store.Event{event(writers*each+1, "ExecutionSucceeded"), event(writers*each+2, "X")})
	}()
	wg.Wait()
	if !errors.Is(dup, store.ErrExists) {
		t.Errorf("duplicate event ID: %v", dup)
	}
	if fresh != nil {
		t.Errorf("an append sharing a group with a duplicate failed: %v", fresh)
	}
	if got, _ := s.Events(ctx, id); len(got) != writers*each+2 || got[4].Type != "PassStateEntered" {
		t.Errorf("after the duplicate: %d events, event 5 %+v", len(got), got[4])
	}

	// One large batch, all or nothing.
	other := createExecution(t, s, execution("batch", "", 0))
	var batch []store.Event
	for i := range 150 {
		batch = append(batch, event(int64(i+1), fmt.Sprint("T", i)))
	}
	if err := s.AppendEvents(ctx, other, batch); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Events(ctx, other)
	if len(got) != 150 || got[149].Type != "T149" || string(got[77].Body) != string(batch[77].Body) {
		t.Fatalf("large batch: %d events", len(got))
	}
	bad := []store.Event{event(151, "New"), event(152, "New"), event(3, "Duplicate")}
	if err := s.AppendEvents(ctx, other, bad); !errors.Is(err, store.ErrExists) {
		t.Errorf("batch with a duplicate: %v", err)
	}
	if got, _ := s.Events(ctx, other); len(got) != 150 {
		t.Errorf("a failed batch left %d events, want the 150 from before", len(got))
	}
}

func testStopAndRedrive(t *testing.T, s store.Workflows) {
	id := createExecution(t, s, execution("r", "k", 1))
	claim(t, s, id)
	if _, err := s.RequestStop(ctx, id, "Stopped", "by hand"); err != nil {
		t.Fatal(err)
	}
	e, _ := s.Execution(ctx, id)
	if !e.StopRequested || e.StopError != "Stopped" || e.StopCause != "by hand" || e.Status != store.ExecutionRunning {
		t.Errorf("stop requested: %+v", e)
	}
	if err := s.Redrive(ctx, id, "/locks/r2", time.Unix(400, 0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("redriving a running execution: %v", err)
	}
	s.FinishExecution(ctx, id, store.ExecutionAborted, nil, "Stopped", "by hand", time.Unix(300, 0))
	if _, err := s.RequestStop(ctx, id, "", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stopping a stopped execution: %v", err)
	}
	waiting := createExecution(t, s, execution("w", "k", 1))
	if err := s.Redrive(ctx, id, "/locks/r2", time.Unix(400, 0)); err != nil {
		t.Fatal(err)
	}
	e, _ = s.Execution(ctx, id)
	if e.Status != store.ExecutionPending || e.RedriveCount != 1 || e.Error != "" || e.StopRequested ||
		e.Lock != "/locks/r2" || !e.Redriven.Equal(time.Unix(400, 0)) || !e.Stopped.IsZero() {
		t.Errorf("redriven %+v", e)
	}
	// A redriven execution queues behind those already waiting.
	if claim(t, s, id) {
		t.Error("a redriven execution jumped the queue")
	}
	if !claim(t, s, waiting) {
		t.Error("the waiting execution did not run")
	}
}

func testTaskTokens(t *testing.T, s store.Workflows) {
	id := createExecution(t, s, execution("tok", "", 0))
	if _, err := s.TaskToken(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	for _, tok := range []string{"t1", "t2"} {
		if err := s.CreateTaskToken(ctx, store.TaskToken{Token: tok, ExecutionID: id, State: "Approve", Created: time.Unix(10, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateTaskToken(ctx, store.TaskToken{Token: "t1", ExecutionID: id, State: "Approve"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("same token twice: %v", err)
	}
	if err := s.HeartbeatTaskToken(ctx, "t1", time.Unix(11, 0)); err != nil {
		t.Fatal(err)
	}
	got, _ := s.TaskToken(ctx, "t1")
	if got.Status != store.TokenWaiting || !got.Heartbeat.Equal(time.Unix(11, 0)) || got.State != "Approve" || got.ExecutionID != id {
		t.Errorf("after heartbeat: %+v", got)
	}
	if err := s.CompleteTaskToken(ctx, "t1", store.TokenSucceeded, []byte(`{"approved":true}`), "", "", time.Unix(12, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteTaskToken(ctx, "t1", store.TokenFailed, nil, "E", "C", time.Unix(13, 0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("completing a completed token: %v", err)
	}
	if err := s.HeartbeatTaskToken(ctx, "t1", time.Unix(13, 0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("heartbeat of a completed token: %v", err)
	}
	s.CompleteTaskToken(ctx, "t2", store.TokenFailed, nil, "Rejected", "no", time.Unix(12, 0))
	if list, err := s.TaskTokens(ctx, id); err != nil || len(list) != 2 || list[0].Token != "t1" || list[1].Status != store.TokenFailed {
		t.Errorf("tokens of the execution: %+v %v", list, err)
	}
	got, _ = s.TaskToken(ctx, "t1")
	if got.Status != store.TokenSucceeded || string(got.Output) != `{"approved":true}` {
		t.Errorf("succeeded token %+v", got)
	}
	got, _ = s.TaskToken(ctx, "t2")
	if got.Status != store.TokenFailed || got.Error != "Rejected" || got.Cause != "no" {
		t.Errorf("failed token %+v", got)
	}
}

func testExecutionListing(t *testing.T, s store.Workflows) {
	for i := range 5 {
		e := execution(fmt.Sprint("e", i), "", 0)
		if i%2 == 1 {
			e.StateMachine = "other"
			e.Parent = "arn:parent"
		}
		createExecution(t, s, e)
	}
	all, err := s.Executions(ctx, store.ExecutionFilter{})
	if err != nil || len(all) != 5 || all[0].Name != "e4" || all[4].Name != "e0" {
		t.Fatalf("all, newest first: %v %v", names(all), err)
	}
	if got, _ := s.Executions(ctx, store.ExecutionFilter{StateMachine: "other"}); len(got) != 2 || got[0].Name != "e3" {
		t.Errorf("by state machine: %v", names(got))
	}
	if got, _ := s.Executions(ctx, store.ExecutionFilter{Parent: "arn:parent", Limit: 1}); len(got) != 1 || got[0].Name != "e3" {
		t.Errorf("children, limit 1: %v", names(got))
	}
	if got, _ := s.Executions(ctx, store.ExecutionFilter{Name: "e2"}); len(got) != 1 || got[0].Name != "e2" {
		t.Errorf("by name: %v", names(got))
	}
	claim(t, s, all[0].ID)
	if got, _ := s.Executions(ctx, store.ExecutionFilter{Status: store.ExecutionRunning}); len(got) != 1 || got[0].Name != "e4" {
		t.Errorf("running: %v", names(got))
	}
}

func names(es []store.Execution) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func child(name, parent string) store.Execution {
	e := execution(name, "", 0)
	e.Parent = execution(parent, "", 0).ARN
	return e
}

// A chain of children stops at MaxDepth, a tree at MaxExecutions, each
// with an error naming the limit, and nothing is recorded for the child
// refused.
func testTreeLimits(t *testing.T, s store.Workflows) {
	limits := store.TreeLimits{MaxDepth: 3, MaxExecutions: 6}
	createExecution(t, s, execution("d0", "", 0))
	for i := 1; i <= 3; i++ {
		if _, err := s.CreateChild(ctx, child(fmt.Sprintf("d%d", i), fmt.Sprintf("d%d", i-1)), limits); err != nil {
			t.Fatalf("child at depth %d: %v", i, err)
		}
	}
	_, err := s.CreateChild(ctx, child("d4", "d3"), limits)
	var le *store.TreeLimitError
	if !errors.Is(err, store.ErrLimit) || !errors.As(err, &le) || le.Limit != "MaxDepth" || le.Value != 3 ||
		le.Root != execution("d0", "", 0).ARN {
		t.Errorf("child at depth 4: %v", err)
	}
	// Two more fit the tree of six (d0..d3 and two), the next does not,
	// whichever execution of the tree starts it.
	for _, n := range []string{"w1", "w2"} {
		if _, err := s.CreateChild(ctx, child(n, "d1"), limits); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	_, err = s.CreateChild(ctx, child("w3", "d0"), limits)
	if !errors.As(err, &le) || le.Limit != "MaxExecutions" || le.Value != 6 {
		t.Errorf("seventh execution of the tree: %v", err)
	}
	if _, err := s.ExecutionByARN(ctx, child("w3", "d0").ARN); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused child was recorded: %v", err)
	}
	if _, err := s.CreateChild(ctx, child("x", "nobody"), limits); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("child of a missing parent: %v", err)
	}
	// Another tree has its own count.
	createExecution(t, s, execution("other", "", 0))
	if _, err := s.CreateChild(ctx, child("o1", "other"), limits); err != nil {
		t.Errorf("first child of another tree: %v", err)
	}
}

// Children started at once, as a Map's iterations on several nodes may
// start them, cannot together pass the tree's MaxExecutions.
func testConcurrentChildren(t *testing.T, s store.Workflows) {
	limits := store.TreeLimits{MaxExecutions: 5}
	createExecution(t, s, execution("root", "", 0))
	var wg sync.WaitGroup
	var mu sync.Mutex
	made, refused := 0, 0
	for i := range 12 {
		wg.Go(func() {
			_, err := s.CreateChild(ctx, child(fmt.Sprint("c", i), "root"), limits)
			var le *store.TreeLimitError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made++
			case errors.As(err, &le) && le.Limit == "MaxExecutions":
				refused++
			default:
				t.Errorf("child c%d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if made != 4 || refused != 8 {
		t.Errorf("12 children at once in a tree of at most 5: %d made, %d refused; want 4 and 8", made, refused)
	}
	if got, _ := s.Executions(ctx, store.ExecutionFilter{Parent: execution("root", "", 0).ARN}); len(got) != 4 {
		t.Errorf("children recorded: %v, want 4", names(got))
	}
}

// A stop reaches every live execution below, also below an ended one,
// and a child started later in a stopped tree is stopped from the start.
func testStopTree(t *testing.T, s store.Workflows) {
	root := createExecution(t, s, execution("root", "", 0))
	claim(t, s, root)
	var ids []int64
	for _, c := range [][2]string{{"a", "root"}, {"b", "a"}, {"c", "b"}, {"d", "root"}} {
		id, err := s.CreateChild(ctx, child(c[0], c[1]), store.TreeLimits{})
		if err != nil {
			t.Fatal(err)
		}
		claim(t, s, id)
		ids = append(ids, id)
	}
	// a ended (it started b without .sync); d ended too.
	s.FinishExecution(ctx, ids[0], store.ExecutionSucceeded, []byte(`{}`), "", "", time.Unix(300, 0))
	s.FinishExecution(ctx, ids[3], store.ExecutionSucceeded, []byte(`{}`), "", "", time.Unix(300, 0))
	unrelated := createExecution(t, s, execution("unrelated", "", 0))
	n, err := s.RequestStop(ctx, root, "Velocity.Interrupted", "SIGTERM")
	if err != nil || n != 2 {
		t.Fatalf("stop: %d below, %v; want 2 (b and c)", n, err)
	}
	for _, id := range []int64{ids[1], ids[2]} {
		e, _ := s.Execution(ctx, id)
		if !e.StopRequested || e.StopError != "Velocity.Interrupted" || !strings.Contains(e.StopCause, "SIGTERM") ||
			!strings.Contains(e.StopCause, execution("root", "", 0).ARN) {
			t.Errorf("%s: %+v", e.Name, e)
		}
	}
	for _, id := range []int64{ids[0], ids[3], unrelated} {
		if e, _ := s.Execution(ctx, id); e.StopRequested {
			t.Errorf("%s was asked to stop", e.Name)
		}
	}
	late, err := s.CreateChild(ctx, child("late", "c"), store.TreeLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Execution(ctx, late); !e.StopRequested || e.StopError != "Velocity.Interrupted" {
		t.Errorf("a child started in a stopped tree: %+v", e)
	}
	// So is one whose parent ended ABORTED.
	s.FinishExecution(ctx, ids[2], store.ExecutionAborted, nil, "Velocity.Interrupted", "SIGTERM", time.Unix(300, 0))
	orphan := child("after", "c")
	orphan.ARN += "-2"
	id, err := s.CreateChild(ctx, orphan, store.TreeLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Execution(ctx, id); !e.StopRequested {
		t.Errorf("a child of an aborted parent: %+v", e)
	}
}

// RecordAsBefore records events of an execution as an earlier version of
// an implementation did, in a layout it no longer writes.
type RecordAsBefore func(t *testing.T, executionID int64, events []store.Event)

// RunMixedHistories checks histories partly recorded in an earlier layout
// (by before) and partly by AppendEvents: they read as one history in ID
// order, and an ID recorded in either layout cannot be appended again.
// open returns an empty store for each subtest and the way to record as
// before in it.
func RunMixedHistories(t *testing.T, open func(t *testing.T) (store.Workflows, RecordAsBefore)) {
	t.Run("ReadInOrder", func(t *testing.T) {
		s, before := open(t)
		id := createExecution(t, s, execution("mixed", "", 0))
		var want []store.Event
		for i := range 12 {
			want = append(want, event(int64(i+1), fmt.Sprint("T", i+1)))
		}
		// The earlier layout holds 1 to 5 and 8; the others come after.
		before(t, id, want[0:5])
		before(t, id, want[7:8])
		for _, part := range [][]store.Event{want[5:7], want[8:10], want[10:12]} {
			if err := s.AppendEvents(ctx, id, part); err != nil {
				t.Fatal(err)
			}
		}
		checkHistory(t, s, id, want)
		// Another execution's history, in one layout only, is its own.
		alone := createExecution(t, s, execution("before only", "", 0))
		before(t, alone, want[:3])
		checkHistory(t, s, alone, want[:3])
		fresh := createExecution(t, s, execution("empty", "", 0))
		checkHistory(t, s, fresh, nil)
	})
	t.Run("DuplicateAcrossLayouts", func(t *testing.T) {
		s, before := open(t)
		id := createExecution(t, s, execution("dup", "", 0))
		before(t, id, []store.Event{event(1, "A"), event(2, "B"), event(3, "C"), event(10, "J")})
		if err := s.AppendEvents(ctx, id, []store.Event{event(4, "D"), event(5, "E"), event(6, "F")}); err != nil {
			t.Fatal(err)
		}
		for _, ids := range [][]int64{{2}, {7, 8, 9, 10}, {9, 10, 11}, {6, 7}, {3, 4}, {11, 1}, {7, 7}} {
			var events []store.Event
			for _, n := range ids {
				events = append(events, event(n, "Again"))
			}
			if err := s.AppendEvents(ctx, id, events); !errors.Is(err, store.ErrExists) {
				t.Errorf("events %v, one of them recorded: %v", ids, err)
			}
		}
		// A duplicate of an event of the earlier layout fails its own call
		// only, not the others of its group.
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for w := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if w == 0 {
					errs[w] = s.AppendEvents(ctx, id, []store.Event{event(10, "Again")})
					return
				}
				errs[w] = s.AppendEvents(ctx, id, []store.Event{event(int64(10+w), "G")})
			}()
		}
		wg.Wait()
		if !errors.Is(errs[0], store.ErrExists) {
			t.Errorf("duplicate of an event recorded before: %v", errs[0])
		}
		for w, err := range errs[1:] {
			if err != nil {
				t.Errorf("an append sharing a group with a duplicate failed: event %d: %v", w+11, err)
			}
		}
		if err := s.AppendEvents(ctx, id, []store.Event{event(7, "G"), event(8, "H"), event(9, "I")}); err != nil {
			t.Fatalf("filling the gap below an event recorded before: %v", err)
		}
		want := []store.Event{event(1, "A"), event(2, "B"), event(3, "C"), event(4, "D"), event(5, "E"), event(6, "F"),
			event(7, "G"), event(8, "H"), event(9, "I"), event(10, "J")}
		for w := 11; w < 30; w++ {
			want = append(want, event(int64(w), "G"))
		}
		checkHistory(t, s, id, want)
	})
}

// checkHistory fails t unless id's history is want, field by field.
func checkHistory(t *testing.T, s store.Workflows, id int64, want []store.Event) {
	t.Helper()
	got, err := s.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("history of %d: %d events, want %d: %+v", id, len(got), len(want), got)
	}
	for i, e := range got {
		w := want[i]
		if e.ID != w.ID || e.Type != w.Type || !e.At.Equal(w.At) || string(e.Body) != string(w.Body) {
			t.Errorf("history of %d, event %d: %+v, want %+v", id, i, e, w)
		}
	}
}
