package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// workflowSite is a site with a real executions service.
func workflowSite(t *testing.T) *opsSite {
	t.Helper()
	return newOpsSite(t, func(dir string, st *sqlite.Store, s *Site) {
		svc := executions.New(context.Background(), executions.Config{Store: st, DataDir: dir, Poll: 20 * time.Millisecond})
		t.Cleanup(svc.Close)
		s.Executions = svc
	})
}

// start starts an execution of the definition src in the background.
func startExecution(t *testing.T, o *opsSite, name, src string) store.Execution {
	t.Helper()
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, name+".asl.json"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	def, err := executions.LoadDefinition(work, name+".asl.json")
	var problems *executions.DefinitionError
	if errors.As(err, &problems) {
		t.Fatalf("%v: %s", err, strings.Join(problems.Problems, "\n"))
	}
	if err != nil {
		t.Fatal(err)
	}
	run, err := o.site.Executions.Start(context.Background(), executions.StartRequest{
		Dir: work, Definition: def, Input: []byte(`{"n":1}`), Name: name, ConcurrencyLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	run.Background(executions.Progress{})
	return run.Execution
}

// until polls the execution until ok holds, or fails after 10s.
func waitExecution(t *testing.T, o *opsSite, id int64, what string, ok func(store.Execution, []executions.Event) bool) {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		e, err := o.store.Execution(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		events, err := o.site.Executions.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(e, events) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s: execution %s", what, e.Status)
		}
	}
}

func executionEnded(e store.Execution, _ []executions.Event) bool { return e.Status.Final() }

const mapDefinition = `{"StartAt": "Items", "States": {
	"Items": {"Type": "Pass", "Result": [1, 2, 3], "Next": "Each"},
	"Each": {"Type": "Map", "ItemProcessor": {"StartAt": "Double", "States": {
		"Double": {"Type": "Pass", "End": true}}}, "Next": "Both"},
	"Both": {"Type": "Parallel", "Branches": [
		{"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": true}}},
		{"StartAt": "Right", "States": {"Right": {"Type": "Fail", "Error": "Right.Failed", "Cause": "by design"}}}],
		"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}], "Next": "Done"},
	"Recover": {"Type": "Pass", "Next": "Done"},
	"Done": {"Type": "Succeed"}}}`

// An execution's page draws every state with how it fared, counts the
// items of its Map and the branches of its Parallel, and lists its
// history; the list links to it and filters by status.
func TestExecutionPageShowsTheGraphAndItemCounts(t *testing.T) {
	o := workflowSite(t)
	o.login(t, "viewer")
	e := startExecution(t, o, "mapped", mapDefinition)
	waitExecution(t, o, e.ID, "it ends", executionEnded)

	code, list := o.get(t, "/executions")
	link := `href="/executions/` + opsID(e.ID) + `"`
	if code != http.StatusOK || !strings.Contains(list, link) {
		t.Fatalf("/executions: %d, no link %s:\n%s", code, link, list)
	}
	if _, ok := o.get(t, "/executions?status=SUCCEEDED"); !strings.Contains(ok, link) {
		t.Errorf("the SUCCEEDED filter leaves the execution out")
	}
	if _, failed := o.get(t, "/executions?status=FAILED"); strings.Contains(failed, link) {
		t.Errorf("the FAILED filter shows a succeeded execution")
	}
	if code, _ := o.get(t, "/executions?status=BOGUS"); code != http.StatusBadRequest {
		t.Errorf("an unknown status filter: %d, want 400", code)
	}

	code, page := o.get(t, "/executions/"+opsID(e.ID))
	if code != http.StatusOK {
		t.Fatalf("execution page: %d\n%s", code, page)
	}
	if opsTag(page, "svg", `class="state-graph"`) == "" {
		t.Fatalf("no svg.state-graph:\n%s", page)
	}
	want := map[string]string{"Items": "succeeded", "Each": "succeeded", "Double": "succeeded", "Both": "caught",
		"Left": "succeeded", "Right": "failed", "Recover": "succeeded", "Done": "succeeded"}
	states := regexp.MustCompile(`<g class="state"[^>]*>`).FindAllString(page, -1)
	if len(states) != len(want) {
		t.Errorf("%d g.state, want one per state (%d): %q", len(states), len(want), states)
	}
	for name, status := range want {
		g := opsTag(page, "g", `class="state"`, `data-state-name="`+name+`"`)
		if got := opsAttr(g, "data-status"); got != status {
			t.Errorf("state %s: data-status %q, want %q (%s)", name, got, status, g)
		}
	}
	counts := regexp.MustCompile(`<span class="item-counts" data-state-name="Each">([^<]*)</span>`).FindStringSubmatch(page)
	if counts == nil || counts[1] != "3 succeeded · 0 failed · 0 running" {
		t.Errorf("Map item counts: %q", counts)
	}
	branches := regexp.MustCompile(`<span class="item-counts" data-state-name="Both">([^<]*)</span>`).FindStringSubmatch(page)
	if branches == nil || branches[1] != "1 succeeded · 1 failed · 0 running" {
		t.Errorf("Parallel branch counts: %q", branches)
	}
	// The path taken is marked; the transition not taken is not.
	if n, taken := strings.Count(page, `class="edge next`), strings.Count(page, `class="edge next taken"`); n != 4 || taken != 3 {
		t.Errorf("%d of %d next edges taken, want Items→Each, Each→Both and Recover→Done of 4", taken, n)
	}
	if !strings.Contains(page, `class="edge catch taken"`) {
		t.Errorf("the Catch edge taken is not marked")
	}
	for _, s := range []string{"MapIterationSucceeded", "ExecutionSucceeded", "Each item 2", "Both branch 2", "Right.Failed"} {
		if !strings.Contains(page, s) {
			t.Errorf("the page does not show %q", s)
		}
	}
	if opsTag(page, "form", `class="stop"`) != "" || opsTag(page, "form", `class="redrive"`) != "" {
		t.Errorf("a succeeded execution offers stop or redrive")
	}
}

// A running execution can be stopped from its page; it ends ABORTED and
// the state it was in shows so.
func TestStopARunningExecution(t *testing.T) {
	o := workflowSite(t)
	o.login(t, "developer")
	e := startExecution(t, o, "waiting", `{"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 60, "End": true}}}`)
	waitExecution(t, o, e.ID, "it waits", func(e store.Execution, events []executions.Event) bool {
		return len(events) > 0 && events[len(events)-1].Type == "WaitStateEntered"
	})
	page := "/executions/" + opsID(e.ID)
	_, body := o.get(t, page)
	if g := opsTag(body, "g", `data-state-name="Hold"`); opsAttr(g, "data-status") != "running" {
		t.Errorf("the waiting state: %s", g)
	}
	form := opsTag(body, "form", `class="stop"`)
	if opsAttr(form, "action") != page+"/stop" || opsAttr(form, "method") != "post" {
		t.Fatalf("stop form: %q", form)
	}
	if opsTag(body, "form", `class="redrive"`) != "" {
		t.Errorf("a running execution offers redrive")
	}
	at, code, body := o.post(t, page, page+"/stop", url.Values{"cause": {"enough"}})
	if code != http.StatusOK || !strings.HasPrefix(at, page) {
		t.Fatalf("stop: ended at %s with %d\n%s", at, code, body)
	}
	stopped, err := o.store.Execution(context.Background(), e.ID)
	if err != nil || stopped.Status != store.ExecutionAborted || stopped.Cause != "enough" {
		t.Fatalf("after the stop: %s %q %v", stopped.Status, stopped.Cause, err)
	}
	if g := opsTag(body, "g", `data-state-name="Hold"`); opsAttr(g, "data-status") != "aborted" {
		t.Errorf("the stopped state: %s", g)
	}
	if !strings.Contains(body, "The execution was stopped.") || opsTag(body, "form", `class="redrive"`) == "" {
		t.Errorf("the page after the stop says nothing or offers no redrive:\n%s", body)
	}
	// Stopping it again is refused with the reason.
	_, code, body = o.post(t, page, page+"/stop", url.Values{})
	if code != http.StatusConflict || !strings.Contains(body, "ABORTED already") {
		t.Errorf("a second stop: %d\n%s", code, body)
	}

	// Redriven, it waits in Hold again, until stopped once more.
	at, code, body = o.post(t, page, page+"/redrive", url.Values{})
	if code != http.StatusOK || !strings.HasPrefix(at, page) || !strings.Contains(body, "The execution was redriven") {
		t.Fatalf("redrive: ended at %s with %d\n%s", at, code, body)
	}
	waitExecution(t, o, e.ID, "it waits again", func(e store.Execution, events []executions.Event) bool {
		return e.RedriveCount == 1 && events[len(events)-1].Type == "WaitStateEntered"
	})
	_, body = o.get(t, page)
	if g := opsTag(body, "g", `data-state-name="Hold"`); opsAttr(g, "data-status") != "running" {
		t.Errorf("the redriven state: %s", g)
	}
	if _, code, body = o.post(t, page, page+"/stop", url.Values{}); code != http.StatusOK {
		t.Errorf("stopping the redriven execution: %d\n%s", code, body)
	}
}

// Names and data from a definition or an execution are text, never
// markup, wherever the page shows them.
func TestExecutionPageEscapesStateNamesAndData(t *testing.T) {
	o := workflowSite(t)
	o.login(t, "viewer")
	hostile := `<img src=x onerror=alert(1)>"'`
	src := `{"StartAt": "` + opsJSONString(hostile) + `", "States": {"` + opsJSONString(hostile) + `": {"Type": "Pass",
		"Result": {"html": "</pre><script>alert(2)</script>"}, "End": true}}}`
	e := startExecution(t, o, "hostile", src)
	waitExecution(t, o, e.ID, "it ends", executionEnded)
	_, page := o.get(t, "/executions/"+opsID(e.ID))
	for _, bad := range []string{"<img", "<script>alert(2)", "</pre><script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page carries %q unescaped", bad)
		}
	}
	g := opsTag(page, "g", `class="state"`)
	if opsAttr(g, "data-state-name") != hostile || opsAttr(g, "data-status") != "succeeded" {
		t.Errorf("the state's box: %s", g)
	}
	if !strings.Contains(page, "&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;") {
		t.Errorf("the output is not shown escaped")
	}
}

// A reference that names no execution is a 404.
func TestUnknownExecutionIsNotFound(t *testing.T) {
	o := workflowSite(t)
	o.login(t, "viewer")
	if code, _ := o.get(t, "/executions/42"); code != http.StatusNotFound {
		t.Errorf("/executions/42: %d, want 404", code)
	}
}

// The drawing keeps boxes apart, inside the picture, and the states of
// a Map or Parallel inside its box, also with loops, edges that skip
// rows and nesting; in YAML as in JSON.
func TestStateGraphLayout(t *testing.T) {
	src := `
StartAt: Check
States:
  Check:
    Type: Choice
    Choices:
      - {Variable: "$.done", BooleanEquals: true, Next: Finish}
    Default: Work
  Work:
    Type: Parallel
    Branches:
      - StartAt: Fan
        States:
          Fan:
            Type: Map
            ItemProcessor:
              StartAt: One
              States:
                One: {Type: Pass, Next: Two}
                Two: {Type: Pass, End: true}
            End: true
      - StartAt: Side
        States:
          Side: {Type: Wait, Seconds: 1, End: true}
    Next: Again
  Again: {Type: Pass, Next: Check}
  Finish: {Type: Succeed}
`
	m, err := parseMachine([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g := drawMachine(m, walkHistory(m, nil))
	boxes := map[string]*stateBox{}
	for _, it := range g.Items {
		if b := it.Box; b != nil {
			boxes[b.Name] = b
			if b.X < 0 || b.Y < 0 || b.X+b.W > g.W || b.Y+b.H > g.H {
				t.Errorf("%s at %d,%d %dx%d is outside the %dx%d picture", b.Name, b.X, b.Y, b.W, b.H, g.W, g.H)
			}
			if b.Status != visitPending {
				t.Errorf("%s is %s before anything ran", b.Name, b.Status)
			}
		}
	}
	if len(boxes) != 8 {
		t.Fatalf("%d boxes, want 8: %v", len(boxes), boxes)
	}
	parent, branch := map[string]string{}, map[string]int{}
	m.parents(parent, branch)
	inside := func(a, b *stateBox) bool {
		return a.X >= b.X && a.Y >= b.Y && a.X+a.W <= b.X+b.W && a.Y+a.H <= b.Y+b.H
	}
	within := func(a, b string) bool {
		for p := parent[a]; p != ""; p = parent[p] {
			if p == b {
				return true
			}
		}
		return false
	}
	for a, ba := range boxes {
		if p := parent[a]; p != "" && !inside(ba, boxes[p]) {
			t.Errorf("%s is not drawn inside %s", a, p)
		}
		for b, bb := range boxes {
			if a >= b || within(a, b) || within(b, a) {
				continue
			}
			if ba.X < bb.X+bb.W && bb.X < ba.X+ba.W && ba.Y < bb.Y+bb.H && bb.Y < ba.Y+ba.H {
				t.Errorf("%s and %s overlap", a, b)
			}
		}
	}
	if boxes["Fan"].Counts != "0 succeeded · 0 failed · 0 running" {
		t.Errorf("Map counts before it ran: %q", boxes["Fan"].Counts)
	}
	if branch["Side"] != 2 || parent["One"] != "Fan" {
		t.Errorf("parents: %v %v", parent, branch)
	}
}

// A Map's counts follow its items as they run, fail and are stopped.
func TestMapCountsWhileItRuns(t *testing.T) {
	o := workflowSite(t)
	o.login(t, "developer")
	e := startExecution(t, o, "mixed", `{"StartAt": "Items", "States": {
	"Items": {"Type": "Pass", "Result": [1, 2, 3], "Next": "Each"},
	"Each": {"Type": "Map", "ToleratedFailureCount": 1, "End": true, "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Which", "States": {
		"Which": {"Type": "Choice", "Choices": [
			{"Variable": "$", "NumericEquals": 2, "Next": "Bad"},
			{"Variable": "$", "NumericEquals": 3, "Next": "Slow"}], "Default": "Fine"},
		"Bad": {"Type": "Fail", "Error": "Item.Bad"},
		"Slow": {"Type": "Wait", "Seconds": 60, "End": true},
		"Fine": {"Type": "Pass", "End": true}}}}}}`)
	waitExecution(t, o, e.ID, "items 1 and 2 end", func(_ store.Execution, events []executions.Event) bool {
		n := 0
		for _, ev := range events {
			if ev.Type == "MapIterationSucceeded" || ev.Type == "MapIterationFailed" {
				n++
			}
		}
		return n == 2
	})
	page := "/executions/" + opsID(e.ID)
	counts := regexp.MustCompile(`<span class="item-counts" data-state-name="Each">([^<]*)</span>`)
	_, body := o.get(t, page)
	if m := counts.FindStringSubmatch(body); m == nil || m[1] != "1 succeeded · 1 failed · 1 running" {
		t.Errorf("counts while item 3 waits: %q", m)
	}
	for name, status := range map[string]string{"Each": "running", "Slow": "running", "Bad": "failed", "Fine": "succeeded"} {
		if g := opsTag(body, "g", `data-state-name="`+name+`"`); opsAttr(g, "data-status") != status {
			t.Errorf("while item 3 waits: %s", g)
		}
	}
	_, _, body = o.post(t, page, page+"/stop", url.Values{})
	if m := counts.FindStringSubmatch(body); m == nil || m[1] != "1 succeeded · 1 failed · 0 running" || !strings.Contains(body, "· 1 aborted") {
		t.Errorf("counts after the stop: %q", m)
	}
	// A redrive runs the items that did not succeed again.
	o.post(t, page, page+"/redrive", url.Values{})
	waitExecution(t, o, e.ID, "item 3 waits again", func(_ store.Execution, events []executions.Event) bool {
		redriven := false
		for _, ev := range events {
			redriven = redriven || ev.Type == "ExecutionRedriven"
			if redriven && ev.Type == "WaitStateEntered" {
				return true
			}
		}
		return false
	})
	_, body = o.get(t, page)
	if m := counts.FindStringSubmatch(body); m == nil || m[1] != "1 succeeded · 1 failed · 1 running" {
		t.Errorf("counts after the redrive: %q", m)
	}
	o.post(t, page, page+"/stop", url.Values{})
}

// Stop and redrive take the developer role: a viewer sees no button,
// and its POST is refused.
func TestExecutionButtonsNeedTheDeveloperRole(t *testing.T) {
	o := workflowSite(t)
	if !o.login(t, "viewer") {
		t.Skip("the site has no login yet: every request is let through")
	}
	e := startExecution(t, o, "held", `{"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 60, "End": true}}}`)
	waitExecution(t, o, e.ID, "it runs", func(e store.Execution, _ []executions.Event) bool { return e.Status == store.ExecutionRunning })
	page := "/executions/" + opsID(e.ID)
	if _, body := o.get(t, page); opsTag(body, "form", `class="stop"`) != "" {
		t.Errorf("a viewer is offered the stop button")
	}
	for _, action := range []string{"stop", "redrive"} {
		if _, code, _ := o.post(t, page, page+"/"+action, url.Values{}); code != http.StatusForbidden {
			t.Errorf("a viewer's %s: %d, want 403", action, code)
		}
	}
	if now, _ := o.store.Execution(context.Background(), e.ID); now.Status != store.ExecutionRunning {
		t.Errorf("a viewer's stop changed the execution: %s", now.Status)
	}
	if _, err := o.site.Executions.Stop(context.Background(), e, "", "the test is over"); err != nil {
		t.Fatal(err)
	}
}

// A definition is read in JSON, YAML, and YAML's flow style that looks
// like JSON but is not.
func TestParseMachineReadsJSONAndYAML(t *testing.T) {
	for _, src := range []string{
		`{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}`,
		"StartAt: A\nStates:\n  A: {Type: Pass, Next: B}\n  B: {Type: Succeed}\n",
		`{StartAt: A, States: {A: {Type: Pass, Next: B}, B: {Type: Succeed}}}`,
	} {
		m, err := parseMachine([]byte(src))
		if err != nil || m.StartAt != "A" || len(m.States) != 2 || m.States["A"].Next != "B" {
			t.Errorf("%s: %+v, %v", src, m, err)
		}
	}
	if _, err := parseMachine([]byte("{not: [closed")); err == nil {
		t.Errorf("a broken definition was read")
	}
}
