// Package storetest is the conformance suite every store.Store runs.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// Run runs the suite; open returns an empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("RunLifecycle", func(t *testing.T) { testLifecycle(t, open(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, open(t)) })
	t.Run("ListingAndFilter", func(t *testing.T) { testListing(t, open(t)) })
	t.Run("Interrupt", func(t *testing.T) { testInterrupt(t, open(t)) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("OutputsAndCachedAttempts", func(t *testing.T) { testOutputs(t, open(t)) })
	t.Run("Images", func(t *testing.T) { testImages(t, open(t)) })
	t.Run("ResultCache", func(t *testing.T) { testResults(t, open(t)) })
	t.Run("DependencyCache", func(t *testing.T) { testDepCache(t, open(t)) })
	t.Run("Approvals", func(t *testing.T) { testApprovals(t, open(t)) })
	t.Run("KeyParts", func(t *testing.T) { testKeyParts(t, open(t)) })
	t.Run("PartialRunSelection", func(t *testing.T) { testSelection(t, open(t)) })
}

// testSelection: a partial run keeps what it was asked to run, so that
// show and runs can say so and rerun can repeat it; a whole run has none.
func testSelection(t *testing.T, s store.Store) {
	whole := newRun(t, s, "p")
	sel := store.Selection{Only: []string{"test", "build/*"}, Skip: []string{"lint"}}
	partial, err := s.CreateRun(ctx, store.Run{Project: "p", Status: store.Running, Created: time.Unix(100, 0), Selection: sel}, actions()[:1])
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(ctx, partial)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Selection.Only, sel.Only) || !slices.Equal(r.Selection.Skip, sel.Skip) {
		t.Errorf("selection %+v, want %+v", r.Selection, sel)
	}
	runs, err := s.Runs(ctx, store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.ID == whole && r.Selection.Partial() || r.ID == partial && !r.Selection.Partial() {
			t.Errorf("run %d listed with selection %+v", r.ID, r.Selection)
		}
	}
}

func testApprovals(t *testing.T, s store.Store) {
	id := newRun(t, s, "p")
	if err := s.RequestApproval(ctx, id, "deploy", time.Unix(5, 0)); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Approvals(ctx, id)
	if len(got) != 1 || got[0].Status != store.ApprovalPending {
		t.Fatalf("after request: %+v", got)
	}
	if err := s.Decide(ctx, store.Approval{RunID: id, Stage: "deploy", Status: store.Approved, By: "alice", At: time.Unix(6, 0)}); err != nil {
		t.Fatal(err)
	}
	// A second request keeps the decision; deciding again is refused.
	s.RequestApproval(ctx, id, "deploy", time.Unix(7, 0))
	if err := s.Decide(ctx, store.Approval{RunID: id, Stage: "deploy", Status: store.Rejected, At: time.Now()}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deciding a decided approval: %v", err)
	}
	got, _ = s.Approvals(ctx, id)
	if len(got) != 1 || got[0].Status != store.Approved || got[0].By != "alice" {
		t.Errorf("approvals %+v", got)
	}
}

// testImages: the image of a build action is kept with its run, one per
// action, in definition order.
func testImages(t *testing.T, s store.Store) {
	id := newRun(t, s, "p")
	if got, err := s.Images(ctx, id); err != nil || len(got) != 0 {
		t.Fatalf("before any: %+v, %v", got, err)
	}
	pkg := store.Image{Stage: "build", Action: "package", ID: "sha256:aa", Tags: []string{"p/package:abc", "p/package:latest"}}
	if err := s.SetImage(ctx, id, pkg); err != nil {
		t.Fatal(err)
	}
	if err := s.SetImage(ctx, id, store.Image{Stage: "build", Action: "test", ID: "sha256:bb", Tags: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	// Replacing, not adding: a push records the pushed names.
	pkg.Pushed = []string{"127.0.0.1:5000/p/package:abc"}
	if err := s.SetImage(ctx, id, pkg); err != nil {
		t.Fatal(err)
	}
	got, err := s.Images(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Action != "test" || !reflect.DeepEqual(got[1], pkg) {
		t.Errorf("images %+v", got)
	}
	if other, _ := s.Images(ctx, newRun(t, s, "q")); len(other) != 0 {
		t.Errorf("another run's images: %+v", other)
	}
}

func testOutputs(t *testing.T, s store.Store) {
	id := newRun(t, s, "p")
	files := []store.Output{
		{Stage: "build", Action: "package", Path: "dist/b", Mode: 0o755, Size: 3, Digest: "sha256:bb"},
		{Stage: "build", Action: "package", Path: "dist/a", Mode: 0o644, Size: 1, Digest: "sha256:aa", Link: ""},
	}
	if err := s.SetOutputs(ctx, id, store.Key{Stage: "build", Name: "package"}, files); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOutputs(ctx, id, store.Key{Stage: "build", Name: "test"}, files[:1]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Outputs(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// Definition order of the actions, then path.
	var order []string
	for _, o := range got {
		order = append(order, o.Action+":"+o.Path)
	}
	if !slices.Equal(order, []string{"test:dist/b", "package:dist/a", "package:dist/b"}) {
		t.Errorf("outputs order %v", order)
	}
	if got[2].Mode != 0o755 || got[2].Digest != "sha256:bb" || got[2].Size != 3 {
		t.Errorf("output %+v", got[2])
	}
	// Replacing, not appending.
	s.SetOutputs(ctx, id, store.Key{Stage: "build", Name: "package"}, nil)
	if got, _ := s.Outputs(ctx, id); len(got) != 1 {
		t.Errorf("after replacing with none: %+v", got)
	}

	a := store.Attempt{RunID: id, Stage: "build", Action: "test", N: 1, Status: store.Running, Log: "l", Started: time.Now()}
	s.StartAttempt(ctx, a)
	a.Status, a.Finished, a.CachedFrom, a.CacheKey, a.Reason = store.Cached, time.Now(), 7, "k1", "result of run 7"
	if err := s.FinishAttempt(ctx, a, true, false); err != nil {
		t.Fatal(err)
	}
	acts, _ := s.Actions(ctx, id)
	if acts[0].Status != store.Cached || acts[0].CachedFrom != 7 || acts[0].CacheKey != "k1" || !acts[0].Status.OK() {
		t.Errorf("cached action %+v", acts[0])
	}
}

func testResults(t *testing.T, s store.Store) {
	if _, err := s.Result(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Result of unknown key: %v", err)
	}
	old := time.Unix(1000, 0)
	r := store.Result{Key: "k", RunID: 3, Stage: "build", Action: "test", Log: "sha256:11", Created: old, Used: old}
	if err := s.SaveResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.Result(ctx, "k")
	if err != nil || got.RunID != 3 || got.Log != "sha256:11" || !got.Created.Equal(old) || !got.Used.After(old) {
		t.Errorf("Result = %+v, %v", got, err)
	}
	r.RunID = 4
	s.SaveResult(ctx, r)
	if got, _ := s.Result(ctx, "k"); got.RunID != 4 {
		t.Errorf("SaveResult did not replace: %+v", got)
	}
	if err := s.DeleteResult(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Result(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

func testDepCache(t *testing.T, s store.Store) {
	if _, _, err := s.DepCache(ctx, "scope", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("empty: %v", err)
	}
	s.SaveDepCache(ctx, store.DepCache{Scope: "scope", Key: "k1", Digest: "sha256:1", Size: 1, Created: time.Unix(10, 0)})
	s.SaveDepCache(ctx, store.DepCache{Scope: "scope", Key: "k2", Digest: "sha256:2", Size: 2, Created: time.Unix(20, 0)})
	s.SaveDepCache(ctx, store.DepCache{Scope: "other", Key: "k3", Digest: "sha256:3", Size: 3, Created: time.Unix(30, 0)})
	if c, exact, err := s.DepCache(ctx, "scope", "k1"); err != nil || !exact || c.Digest != "sha256:1" {
		t.Errorf("exact: %+v %v %v", c, exact, err)
	}
	// No exact match: the newest entry of the scope, like restore-keys.
	if c, exact, err := s.DepCache(ctx, "scope", "k9"); err != nil || exact || c.Digest != "sha256:2" {
		t.Errorf("fall-back: %+v %v %v", c, exact, err)
	}
}

var ctx = context.Background()

func actions() []store.Action {
	return []store.Action{
		{StageIndex: 0, Stage: "build", Name: "test", Kind: store.KindAction},
		{StageIndex: 0, Stage: "build", Name: "package", Kind: store.KindAction, Needs: []string{"test"}},
		{StageIndex: 0, Stage: "build", Name: "cleanup", Kind: store.KindFinally},
		{StageIndex: 1, Stage: "deploy", Name: "ship", Kind: store.KindAction},
	}
}

func newRun(t *testing.T, s store.Store, project string) int64 {
	t.Helper()
	id, err := s.CreateRun(ctx, store.Run{
		Project: project, Dir: "/src/" + project, Commit: "abc", Branch: "main", Dirty: true,
		Status: store.Running, Lock: "/locks/x", Workspace: "/data/workspaces/" + project, Created: time.Unix(100, 0),
		Trigger: "push by alice", CommitTime: time.Unix(40, 0),
	}, actions())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func testLifecycle(t *testing.T, s store.Store) {
	id := newRun(t, s, "p")
	r, err := s.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Project != "p" || r.Commit != "abc" || !r.Dirty || r.Status != store.Running || !r.Created.Equal(time.Unix(100, 0)) ||
		r.Workspace != "/data/workspaces/p" || r.Trigger != "push by alice" || !r.CommitTime.Equal(time.Unix(40, 0)) {
		t.Errorf("run %+v", r)
	}
	acts, err := s.Actions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range acts {
		names = append(names, a.Stage+"/"+a.Name)
		if a.Status != store.Pending {
			t.Errorf("%s starts %s, want pending", a.Name, a.Status)
		}
	}
	if !slices.Equal(names, []string{"build/test", "build/package", "build/cleanup", "deploy/ship"}) {
		t.Errorf("actions out of definition order: %v", names)
	}
	if !slices.Equal(acts[1].Needs, []string{"test"}) || acts[2].Kind != store.KindFinally {
		t.Errorf("needs/kind lost: %+v", acts[1:3])
	}

	t0 := time.Unix(200, 0)
	a1 := store.Attempt{RunID: id, Stage: "build", Action: "test", N: 1, Status: store.Running, Log: "/logs/1", Started: t0}
	if err := s.StartAttempt(ctx, a1); err != nil {
		t.Fatal(err)
	}
	acts, _ = s.Actions(ctx, id)
	if acts[0].Status != store.Running || acts[0].Attempts != 1 || !acts[0].Started.Equal(t0) {
		t.Errorf("after start: %+v", acts[0])
	}
	a1.Status, a1.ExitCode, a1.Reason, a1.Finished = store.Failed, 2, "exit code 2", t0.Add(time.Second)
	if err := s.FinishAttempt(ctx, a1, false, false); err != nil {
		t.Fatal(err)
	}
	acts, _ = s.Actions(ctx, id)
	if acts[0].Status != store.Running {
		t.Errorf("a non-final attempt changed the action: %+v", acts[0])
	}
	a2 := store.Attempt{RunID: id, Stage: "build", Action: "test", N: 2, Status: store.Running, Log: "/logs/2", Started: t0.Add(2 * time.Second)}
	if err := s.StartAttempt(ctx, a2); err != nil {
		t.Fatal(err)
	}
	a2.Status, a2.Finished = store.Succeeded, t0.Add(3*time.Second)
	if err := s.FinishAttempt(ctx, a2, true, false); err != nil {
		t.Fatal(err)
	}
	acts, _ = s.Actions(ctx, id)
	if a := acts[0]; a.Status != store.Succeeded || a.Attempts != 2 || !a.Started.Equal(t0) || !a.Finished.Equal(t0.Add(3*time.Second)) {
		t.Errorf("after final attempt: %+v", a)
	}
	atts, err := s.Attempts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 2 || atts[0].ExitCode != 2 || atts[0].Reason != "exit code 2" || atts[1].Log != "/logs/2" {
		t.Errorf("attempts %+v", atts)
	}

	if err := s.SetActions(ctx, id, []store.Key{{Stage: "deploy", Name: "ship"}}, store.Skipped, "stage failed", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, id, store.Failed, "failed: build/package", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	r, _ = s.Run(ctx, id)
	if r.Status != store.Failed || r.Reason != "failed: build/package" || !r.Finished.Equal(t0.Add(time.Minute)) {
		t.Errorf("finished run %+v", r)
	}
	acts, _ = s.Actions(ctx, id)
	if acts[3].Status != store.Skipped || acts[3].Reason != "stage failed" {
		t.Errorf("skipped action %+v", acts[3])
	}
	if live, _ := s.LiveRuns(ctx); len(live) != 0 {
		t.Errorf("finished run still live: %+v", live)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	if _, err := s.Run(ctx, 42); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Run: %v", err)
	}
	if err := s.FinishRun(ctx, 42, store.Failed, "", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishRun: %v", err)
	}
	id := newRun(t, s, "p")
	if err := s.StartAttempt(ctx, store.Attempt{RunID: id, Stage: "build", Action: "nope", N: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StartAttempt: %v", err)
	}
	if err := s.FinishAttempt(ctx, store.Attempt{RunID: id, Stage: "build", Action: "test", N: 9}, true, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishAttempt: %v", err)
	}
	if err := s.SetActions(ctx, id, []store.Key{{Stage: "x", Name: "y"}}, store.Skipped, "", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetActions: %v", err)
	}
	if err := s.Interrupt(ctx, 999, "", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Interrupt: %v", err)
	}
}

func testListing(t *testing.T, s store.Store) {
	var ids []int64
	for _, p := range []string{"a", "b", "a", "a"} {
		ids = append(ids, newRun(t, s, p))
	}
	all, err := s.Runs(ctx, store.RunFilter{})
	if err != nil || len(all) != 4 || all[0].ID != ids[3] {
		t.Fatalf("Runs: %v %+v", err, all)
	}
	a, _ := s.Runs(ctx, store.RunFilter{Project: "a", Limit: 2})
	if len(a) != 2 || a[0].ID != ids[3] || a[1].ID != ids[2] {
		t.Errorf("filtered: %+v", a)
	}
	live, _ := s.LiveRuns(ctx)
	if len(live) != 4 || live[0].ID != ids[0] {
		t.Errorf("LiveRuns oldest first: %+v", live)
	}
}

func testInterrupt(t *testing.T, s store.Store) {
	id := newRun(t, s, "p")
	at := store.Attempt{RunID: id, Stage: "build", Action: "test", N: 1, Status: store.Running, Log: "l", Started: time.Now()}
	if err := s.StartAttempt(ctx, at); err != nil {
		t.Fatal(err)
	}
	if err := s.Interrupt(ctx, id, "killed", time.Now()); err != nil {
		t.Fatal(err)
	}
	r, _ := s.Run(ctx, id)
	acts, _ := s.Actions(ctx, id)
	atts, _ := s.Attempts(ctx, id)
	if r.Status != store.Interrupted || r.Reason != "killed" {
		t.Errorf("run %+v", r)
	}
	if acts[0].Status != store.Interrupted || acts[1].Status != store.Skipped {
		t.Errorf("actions %+v", acts)
	}
	if atts[0].Status != store.Interrupted {
		t.Errorf("attempt %+v", atts[0])
	}
}

func testConcurrent(t *testing.T, s store.Store) {
	id := newRun(t, s, "p")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for _, a := range actions() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := store.Attempt{RunID: id, Stage: a.Stage, Action: a.Name, N: 1, Status: store.Running, Log: "l", Started: time.Now()}
			if err := s.StartAttempt(ctx, at); err != nil {
				errs <- err
				return
			}
			at.Status, at.Finished = store.Succeeded, time.Now()
			if err := s.FinishAttempt(ctx, at, true, false); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	acts, _ := s.Actions(ctx, id)
	for _, a := range acts {
		if a.Status != store.Succeeded {
			t.Errorf("%s: %s", a.Name, a.Status)
		}
	}
}

// testKeyParts checks that an attempt's key parts are kept and that the
// last success of an action is found within its project only.
func testKeyParts(t *testing.T, s store.Store) {
	k := store.Key{Stage: "build", Name: "test"}
	finish := func(id int64, status store.Status, parts string) {
		t.Helper()
		a := store.Attempt{RunID: id, Stage: k.Stage, Action: k.Name, N: 1, Status: store.Running, Log: "l", Started: time.Now()}
		if err := s.StartAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
		a.Status, a.Finished = status, time.Now()
		if parts != "" {
			a.CacheKey, a.KeyParts = "key-"+parts, []byte(parts)
		}
		if err := s.FinishAttempt(ctx, a, true, false); err != nil {
			t.Fatal(err)
		}
	}
	r1 := newRun(t, s, "p")
	finish(r1, store.Succeeded, `{"n":1}`)
	other := newRun(t, s, "q")
	finish(other, store.Succeeded, `{"n":"other project"}`)
	uncached := newRun(t, s, "p")
	finish(uncached, store.Succeeded, "")
	r2 := newRun(t, s, "p")
	finish(r2, store.Failed, `{"n":2}`)
	r3 := newRun(t, s, "p")

	got, err := s.KeyParts(ctx, r2, k)
	if err != nil || string(got.Body) != `{"n":2}` || got.Status != store.Failed || got.CacheKey != `key-{"n":2}` {
		t.Errorf("KeyParts of run %d: %+v, %v", r2, got, err)
	}
	if got, err := s.KeyParts(ctx, r3, k); err != nil || got.Body != nil || got.Status != store.Pending {
		t.Errorf("KeyParts of a pending action: %+v, %v", got, err)
	}
	if _, err := s.KeyParts(ctx, r3, store.Key{Stage: "build", Name: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyParts of an unknown action: %v", err)
	}
	// The failed run, the run without a cache key (--no-cache) and the
	// other project's run are passed over.
	if got, err := s.LastSuccess(ctx, "p", k, r3); err != nil || got.RunID != r1 || string(got.Body) != `{"n":1}` {
		t.Errorf("LastSuccess before run %d: %+v, %v", r3, got, err)
	}
	if _, err := s.LastSuccess(ctx, "p", k, r1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LastSuccess before the first run: %v", err)
	}
}
