package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/executor/executortest"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/expr"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// node builds a plan node; needs are names resolved by stage().
func node(name, script string, needs ...string) *plan.Node {
	return &plan.Node{Name: name, Kind: "action", Script: script, NeedNames: needs, Attempts: 1, Env: map[string]string{}}
}

func graph(stage string, nodes ...*plan.Node) *plan.Graph {
	index := map[string]int{}
	for i, n := range nodes {
		index[n.Name] = i
		n.Stage = stage
	}
	for _, n := range nodes {
		n.Needs = nil
		for _, need := range n.NeedNames {
			n.Needs = append(n.Needs, index[need])
		}
	}
	return &plan.Graph{Nodes: nodes}
}

func stage(name string, actions ...*plan.Node) *plan.Stage {
	return &plan.Stage{Name: name, Actions: graph(name, actions...), OnFailure: &plan.Graph{}, Finally: &plan.Graph{}}
}

type harness struct {
	t     *testing.T
	store *sqlite.Store
	eng   *engine.Engine
	dir   string
}

func newHarness(t *testing.T, parallelism int) *harness {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ex, err := local.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close() })
	return &harness{
		t:     t,
		store: db,
		dir:   t.TempDir(),
		eng:   &engine.Engine{Executor: ex, Journal: db, Parallelism: parallelism, KillGrace: 2 * time.Second},
	}
}

// run records the plan as a run and executes it.
func (h *harness) run(ctx context.Context, p *plan.Plan) (engine.Outcome, map[string]store.Action) {
	h.t.Helper()
	return h.runFacts(ctx, p, expr.Facts{})
}

// runFacts is run with the facts if: conditions see.
func (h *harness) runFacts(ctx context.Context, p *plan.Plan, facts expr.Facts) (engine.Outcome, map[string]store.Action) {
	h.t.Helper()
	for i, s := range p.Stages {
		s.Index = i
	}
	var actions []store.Action
	p.Each(func(s *plan.Stage, n *plan.Node) {
		actions = append(actions, store.Action{StageIndex: s.Index, Stage: s.Name, Name: n.Name, Kind: store.Kind(n.Kind), Needs: n.NeedNames})
	})
	id, err := h.store.CreateRun(context.Background(), store.Run{Project: "t", Status: store.Running, Created: time.Now()}, actions)
	if err != nil {
		h.t.Fatal(err)
	}
	out, err := h.eng.Execute(ctx, engine.Run{
		ID:     id,
		Plan:   p,
		Dir:    h.dir,
		LogDir: filepath.Join(h.dir, ".logs"),
		Env:    []string{"PATH=" + os.Getenv("PATH")},
		Vars:   []string{"VELOCITY_RUN_ID=7"},
		Facts:  facts,
	})
	if err != nil {
		h.t.Fatalf("Execute: %v", err)
	}
	got, err := h.store.Actions(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]store.Action{}
	for _, a := range got {
		m[a.Stage+"/"+a.Name] = a
	}
	return out, m
}

func TestNeedsStartTheMomentTheirOwnNeedsAreDone(t *testing.T) {
	// A scheduler that waits for whole levels fails every try; a load spike
	// on a busy machine can spoil one, so up to three are allowed.
	var problems []string
	for try := 0; try < 3; try++ {
		problems = dagReadiness(t)
		if len(problems) == 0 {
			return
		}
		t.Logf("try %d: %v", try+1, problems)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

func dagReadiness(t *testing.T) []string {
	h := newHarness(t, 4)
	p := &plan.Plan{Stages: []*plan.Stage{stage("build",
		node("a", "sleep 1"),
		node("b", "sleep 0.2"),
		node("c", "sleep 0.2", "b"),
	)}}
	start := time.Now()
	out, acts := h.run(context.Background(), p)
	took := time.Since(start)
	if out.Status != store.Succeeded {
		t.Fatalf("outcome %+v", out)
	}
	var problems []string
	a, b, c := acts["build/a"], acts["build/b"], acts["build/c"]
	if c.Started.Before(b.Finished) {
		t.Fatalf("c started before its need b finished")
	}
	if !c.Finished.Before(a.Finished) {
		problems = append(problems, fmt.Sprintf("c finished %v after a: c must not wait for a level", c.Finished.Sub(a.Finished)))
	}
	// About 1 s (the longest chain), not 1.4 s (a level-by-level scheduler).
	if took >= 1300*time.Millisecond {
		problems = append(problems, fmt.Sprintf("stage took %v, want about 1s", took))
	}
	return problems
}

func TestParallelismLimit(t *testing.T) {
	h := newHarness(t, 2)
	var nodes []*plan.Node
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		nodes = append(nodes, node(n, "sleep 0.2"))
	}
	out, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s", nodes...)}})
	if out.Status != store.Succeeded {
		t.Fatalf("outcome %+v", out)
	}
	// At no instant do more than two attempts overlap.
	for _, x := range acts {
		overlap := 0
		for _, y := range acts {
			if !y.Started.After(x.Started) && y.Finished.After(x.Started) {
				overlap++
			}
		}
		if overlap > 2 {
			t.Errorf("%d actions running at %v with -j 2", overlap, x.Started)
		}
	}
}

func TestFailureStopsTheStageAndSkipsLaterStages(t *testing.T) {
	h := newHarness(t, 4)
	build := stage("build",
		node("fast-fail", "exit 3"),
		node("slow", "sleep 0.5; touch slow.done"),
		node("after-fail", "touch after-fail.ran", "fast-fail"),
		node("after-slow", "touch after-slow.ran", "slow"),
	)
	build.OnFailure = graph("build", &plan.Node{Name: "report", Kind: "on_failure", Script: "touch report.ran", Attempts: 1})
	build.Finally = graph("build", &plan.Node{Name: "cleanup", Kind: "finally", Script: "touch cleanup.ran", Attempts: 1})
	p := &plan.Plan{Stages: []*plan.Stage{build, stage("deploy", node("ship", "touch ship.ran"))}}
	out, acts := h.run(context.Background(), p)
	if out.Status != store.Failed || !strings.Contains(out.Reason, "fast-fail") {
		t.Fatalf("outcome %+v", out)
	}
	want := map[string]store.Status{
		"build/fast-fail":  store.Failed,
		"build/slow":       store.Succeeded, // running actions finish
		"build/after-fail": store.Skipped,
		"build/after-slow": store.Skipped, // no new action starts after a failure
		"build/report":     store.Succeeded,
		"build/cleanup":    store.Succeeded,
		"deploy/ship":      store.Skipped,
	}
	for k, st := range want {
		if acts[k].Status != st {
			t.Errorf("%s: %s (%s), want %s", k, acts[k].Status, acts[k].Reason, st)
		}
	}
	if acts["build/fast-fail"].ExitCode != 3 {
		t.Errorf("exit code %d, want 3", acts["build/fast-fail"].ExitCode)
	}
	if got := acts["build/after-fail"].Reason; !strings.Contains(got, `needs "fast-fail"`) {
		t.Errorf("skip reason %q should name the failed need", got)
	}
	for _, f := range []string{"slow.done", "report.ran", "cleanup.ran"} {
		if _, err := os.Stat(filepath.Join(h.dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{"after-fail.ran", "after-slow.ran", "ship.ran"} {
		if _, err := os.Stat(filepath.Join(h.dir, f)); err == nil {
			t.Errorf("%s exists: that action must not have run", f)
		}
	}
}

func TestOnFailureDoesNotRunOnSuccess(t *testing.T) {
	h := newHarness(t, 2)
	s := stage("s", node("ok", "true"))
	s.OnFailure = graph("s", &plan.Node{Name: "report", Kind: "on_failure", Script: "touch report.ran", Attempts: 1})
	out, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{s}})
	if out.Status != store.Succeeded || acts["s/report"].Status != store.Skipped {
		t.Fatalf("outcome %+v, report %+v", out, acts["s/report"])
	}
}

func TestRetryWithBackoff(t *testing.T) {
	h := newHarness(t, 2)
	n := node("flaky", `n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; [ "$n" -ge 2 ]`)
	n.Attempts, n.Backoff = 3, 100*time.Millisecond
	start := time.Now()
	out, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s", n)}})
	if out.Status != store.Succeeded || acts["s/flaky"].Attempts != 3 {
		t.Fatalf("outcome %+v, action %+v", out, acts["s/flaky"])
	}
	// Waits of 100 ms then 200 ms: exponential.
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("three attempts took %v, want at least the 300ms of backoff", took)
	}
	atts, _ := h.store.Attempts(context.Background(), acts["s/flaky"].RunID)
	if len(atts) != 3 || atts[0].Status != store.Failed || atts[2].Status != store.Succeeded {
		t.Errorf("attempts %+v", atts)
	}
}

func TestAllowFailureLetsDependentsRun(t *testing.T) {
	h := newHarness(t, 2)
	bad := node("lint", "exit 1")
	bad.AllowFailure = true
	out, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{
		stage("s", bad, node("after", "true", "lint")),
		stage("next", node("go", "true")),
	}})
	if out.Status != store.Succeeded {
		t.Fatalf("outcome %+v", out)
	}
	if acts["s/lint"].Status != store.Failed || !acts["s/lint"].AllowFailure || acts["s/after"].Status != store.Succeeded {
		t.Errorf("actions %+v", acts)
	}
}

func TestTimeoutKillsTheWholeTree(t *testing.T) {
	h := newHarness(t, 2)
	n := node("hang", "sleep 100 &\necho $! > bg.pid\nsleep 100")
	n.Timeout = 300 * time.Millisecond
	start := time.Now()
	out, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s", n)}})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("timed-out run took %v", took)
	}
	if out.Status != store.Failed || !strings.Contains(acts["s/hang"].Reason, "timed out after 300ms") {
		t.Fatalf("outcome %+v, action %+v", out, acts["s/hang"])
	}
	b, err := os.ReadFile(filepath.Join(h.dir, "bg.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for _, c := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(c-'0')
	}
	executortest.WaitGone(t, 2*time.Second, pid)
}

func TestCancelRunsFinallyAndRecordsCancelled(t *testing.T) {
	h := newHarness(t, 2)
	s := stage("s", node("long", "sleep 100"), node("later", "true", "long"))
	s.Finally = graph("s", &plan.Node{Name: "cleanup", Kind: "finally", Script: "touch cleanup.ran", Attempts: 1})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	out, acts := h.run(ctx, &plan.Plan{Stages: []*plan.Stage{s, stage("t", node("x", "true"))}})
	if out.Status != store.Cancelled {
		t.Fatalf("outcome %+v", out)
	}
	for k, st := range map[string]store.Status{"s/long": store.Cancelled, "s/later": store.Cancelled, "s/cleanup": store.Succeeded, "t/x": store.Cancelled} {
		if acts[k].Status != st {
			t.Errorf("%s: %s, want %s", k, acts[k].Status, st)
		}
	}
}

func TestEnvironment(t *testing.T) {
	h := newHarness(t, 2)
	n := node("env", `echo "$VELOCITY_STAGE/$VELOCITY_ACTION run=$VELOCITY_RUN_ID x=$X" > env.out`)
	n.Env = map[string]string{"X": "$(id)", "VELOCITY_RUN_ID": "spoofed"}
	out, _ := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s", n)}})
	if out.Status != store.Succeeded {
		t.Fatalf("outcome %+v", out)
	}
	b, _ := os.ReadFile(filepath.Join(h.dir, "env.out"))
	if got := string(b); got != "s/env run=7 x=$(id)\n" {
		t.Errorf("env.out = %q", got)
	}
}

func TestLogsPerAttempt(t *testing.T) {
	h := newHarness(t, 2)
	n := node("log", `echo "try $(cat n 2>/dev/null || echo 1)"; echo 2 > n; [ -e ok ] || { touch ok; exit 1; }`)
	n.Attempts = 2
	_, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s", n)}})
	atts, _ := h.store.Attempts(context.Background(), acts["s/log"].RunID)
	if len(atts) != 2 {
		t.Fatalf("attempts %+v", atts)
	}
	for i, want := range []string{"try 1\n", "try 2\n"} {
		b, err := os.ReadFile(atts[i].Log)
		if err != nil || string(b) != want {
			t.Errorf("attempt %d log %q (%v), want %q", i+1, b, err, want)
		}
	}
}

func TestCancelDuringBackoffDoesNotWaitForIt(t *testing.T) {
	h := newHarness(t, 2)
	n := node("flaky", "exit 1")
	n.Attempts, n.Backoff = 3, time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	out, acts := h.run(ctx, &plan.Plan{Stages: []*plan.Stage{stage("s", n)}})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("cancel waited %v for a one-minute backoff", took)
	}
	if out.Status != store.Cancelled || acts["s/flaky"].Status != store.Cancelled {
		t.Errorf("outcome %+v, action %+v", out, acts["s/flaky"])
	}
}

func TestFailureEndsOtherBackoffs(t *testing.T) {
	h := newHarness(t, 2)
	flaky := node("flaky", "exit 1")
	flaky.Attempts, flaky.Backoff = 3, time.Minute
	start := time.Now()
	out, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s", flaky, node("broken", "sleep 0.3; exit 2"))}})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the stage waited %v for a backoff after another action failed", took)
	}
	if out.Status != store.Failed || acts["s/flaky"].Status != store.Failed || !strings.Contains(acts["s/flaky"].Reason, "not retried") {
		t.Errorf("outcome %+v, flaky %+v", out, acts["s/flaky"])
	}
}

func TestNamesThatLeaveTheLogFolderAreRefused(t *testing.T) {
	for _, tc := range []struct{ stage, action string }{
		{"..", "a"}, {".", "a"}, {"s", ".."}, {"s", "../../x"}, {"s", "a\x00b"},
	} {
		h := newHarness(t, 1)
		logs := filepath.Join(h.dir, "run", "logs")
		p := &plan.Plan{Stages: []*plan.Stage{stage(tc.stage, node(tc.action, "echo escaped"))}}
		id, err := h.store.CreateRun(context.Background(), store.Run{Project: "t", Status: store.Running, Created: time.Now()},
			[]store.Action{{Stage: tc.stage, Name: tc.action, Kind: store.Kind("action")}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := h.eng.Execute(context.Background(), engine.Run{ID: id, Plan: p, Dir: h.dir, LogDir: logs,
			Env: []string{"PATH=" + os.Getenv("PATH")}})
		if !errors.Is(err, engine.ErrUnsafeName) || out.Status != store.Failed {
			t.Errorf("stage %q action %q: outcome %+v, err %v; want refused", tc.stage, tc.action, out, err)
		}
		// Nothing was written, inside the log folder or beside it.
		if entries, _ := os.ReadDir(filepath.Join(h.dir, "run")); len(entries) > 0 {
			t.Errorf("stage %q action %q: the run's folder holds %v", tc.stage, tc.action, entries)
		}
	}
}
