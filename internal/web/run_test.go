package web

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// approvalPipeline builds, then waits for approval before deploying.
const approvalPipeline = `
stages:
  - name: build
    actions:
      - name: test
        run: echo tested
  - name: production
    approval: manual
    actions:
      - name: deploy
        run: echo deployed
`

// waiting starts approvalPipeline and returns the run once its
// production stage waits.
func (f *fixture) waiting() int64 {
	f.t.Helper()
	id := f.start(approvalPipeline, runs.StartRequest{})
	f.eventually("production waits for approval", func() bool {
		d, err := f.runs.Show(context.Background(), id)
		return err == nil && len(d.Approvals) == 1 && d.Approvals[0].Status == store.ApprovalPending
	})
	return id
}

func TestRunPageDrawsANodePerActionWithItsState(t *testing.T) {
	f := newFixture(t)
	c := f.login("alice", access.Viewer)
	id := f.start(`
stages:
  - name: build
    actions:
      - { name: compile, run: "printf '\\033[31mred\\033[0m plain\\n'" }
      - { name: test, needs: [compile], run: "echo one; echo two" }
      - { name: lint, needs: [test], run: "exit 3" }
`, runs.StartRequest{})
	f.wait(id)
	res, body := f.get(c, fmt.Sprintf("/runs/%d", id))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("run page: %s", res.Status)
	}
	contains(t, body, `<svg class="graph"`,
		`<g class="node" data-action="build/compile" data-state="succeeded"`,
		`<g class="node" data-action="build/test" data-state="succeeded"`,
		`<g class="node" data-action="build/lint" data-state="failed"`,
		`class="edge" data-from="build/compile" data-to="build/test"`,
		`<section class="action-log" id="log-build-compile" data-action="build/compile"`,
		`<li id="L-build-test-2"><a class="ln" href="#L-build-test-2">2</a>two</li>`,
		`<span class="ansi-fg-1">red</span> plain`,
		fmt.Sprintf(`href="/runs/%d/logs/build/test"`, id))
	if n := strings.Count(body, `<g class="node"`); n != 3 {
		t.Errorf("%d nodes, want 3", n)
	}
	// A viewer gets no buttons, even where a developer would.
	if strings.Contains(body, `class="rerun-failed"`) {
		t.Error("a viewer sees the rerun button")
	}

	res, log := f.get(c, fmt.Sprintf("/runs/%d/logs/build/test", id))
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") || log != "one\ntwo\n" {
		t.Errorf("log download: %s %q %q", res.Status, res.Header.Get("Content-Type"), log)
	}
	_, body = f.get(c, fmt.Sprintf("/runs/%d?q=TWO", id))
	if strings.Contains(body, `id="L-build-test-1"`) || !strings.Contains(body, `id="L-build-test-2"`) {
		t.Error("the search ?q=TWO does not keep only the matching line")
	}
}

func TestViewerSeesNoApproveButtonAndMayNotApprove(t *testing.T) {
	f := newFixture(t)
	id := f.waiting()
	c := f.login("val", access.Viewer)
	page := fmt.Sprintf("/runs/%d", id)
	_, body := f.get(c, page)
	if strings.Contains(body, `class="approve"`) {
		t.Fatal("a viewer sees the approve form")
	}
	contains(t, body, "waits for approval by a developer")
	res := f.post(c, page+"/approve", url.Values{"csrf": {f.csrf(c, page)}, "decision": {"approve"}, "stage": {"production"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a viewer approving: %s, want 403", res.Status)
	}
	if d, _ := f.runs.Show(context.Background(), id); d.Approvals[0].Status != store.ApprovalPending {
		t.Fatalf("the viewer's refused approval decided the stage: %+v", d.Approvals)
	}
	f.runs.Cancel(context.Background(), id, true)
	f.wait(id)
}

func TestApprovingWithoutCSRFIsForbidden(t *testing.T) {
	f := newFixture(t)
	id := f.waiting()
	c := f.login("dev", access.Developer)
	res := f.post(c, fmt.Sprintf("/runs/%d/approve", id), url.Values{"decision": {"approve"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("approve without CSRF: %s, want 403", res.Status)
	}
	res = f.post(c, fmt.Sprintf("/runs/%d/approve", id), url.Values{"decision": {"approve"}, "csrf": {"forged"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("approve with a forged CSRF token: %s, want 403", res.Status)
	}
	f.runs.Cancel(context.Background(), id, true)
	f.wait(id)
}

func TestDeveloperApprovesAWaitingRun(t *testing.T) {
	f := newFixture(t)
	id := f.waiting()
	c := f.login("dev", access.Developer)
	page := fmt.Sprintf("/runs/%d", id)
	_, body := f.get(c, page)
	contains(t, body, fmt.Sprintf(`<form class="approve" method="post" action="/runs/%d/approve">`, id),
		`<button name="decision" value="approve">`, `<button name="decision" value="reject">`, `<form class="cancel"`)
	res := f.post(c, page+"/approve", url.Values{"csrf": {f.csrf(c, page)}, "decision": {"approve"}, "stage": {"production"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != page {
		t.Fatalf("approve: %s to %q", res.Status, res.Header.Get("Location"))
	}
	if r := f.wait(id); r.Run.Status != store.Succeeded {
		t.Fatalf("approved run: %s (%s)", r.Run.Status, r.Run.Reason)
	}
	d, _ := f.runs.Show(context.Background(), id)
	if d.Approvals[0].By != "dev (web)" {
		t.Errorf("approved by %q, want the token's name", d.Approvals[0].By)
	}
}

func TestDeveloperRerunsWhatFailed(t *testing.T) {
	f := newFixture(t)
	flag := filepath.Join(t.TempDir(), "ok")
	id := f.start(`
stages:
  - name: build
    actions:
      - { name: flaky, env: { FLAG: "`+flag+`" }, run: 'test -f "$FLAG"' }
`, runs.StartRequest{})
	f.wait(id)
	os.WriteFile(flag, nil, 0o644)
	c := f.login("dev", access.Developer)
	page := fmt.Sprintf("/runs/%d", id)
	_, body := f.get(c, page)
	contains(t, body, `<form class="rerun-failed"`)
	res := f.post(c, page+"/rerun-failed", url.Values{"csrf": {f.csrf(c, page)}})
	var next int64
	if _, err := fmt.Sscanf(res.Header.Get("Location"), "/runs/%d", &next); err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("rerun: %s to %q", res.Status, res.Header.Get("Location"))
	}
	if r := f.wait(next); r.Run.Status != store.Succeeded {
		t.Fatalf("rerun %d: %s", next, r.Run.Status)
	}
}

func TestArtifactsAreListedAndDownloaded(t *testing.T) {
	f := newFixture(t)
	c := f.login("alice", access.Viewer)
	id := f.start(`
stages:
  - name: build
    actions:
      - { name: package, run: "mkdir -p dist && echo binary > dist/app", outputs: [dist/app] }
`, runs.StartRequest{})
	f.wait(id)
	_, body := f.get(c, fmt.Sprintf("/runs/%d", id))
	link := fmt.Sprintf("/runs/%d/artifacts/build/package/dist/app", id)
	contains(t, body, `href="`+link+`"`)
	res, content := f.get(c, link)
	if res.StatusCode != http.StatusOK || content != "binary\n" {
		t.Fatalf("artifact: %s %q", res.Status, content)
	}
	if res, _ := f.get(c, fmt.Sprintf("/runs/%d/artifacts/build/package/nope", id)); res.StatusCode != http.StatusNotFound {
		t.Errorf("missing artifact: %s, want 404", res.Status)
	}
}

func TestLiveStreamSendsNewLinesAndStates(t *testing.T) {
	f := newFixture(t)
	c := f.login("alice", access.Viewer)
	gate := filepath.Join(t.TempDir(), "gate")
	id := f.start(`
stages:
  - name: build
    actions:
      - name: slow
        env: { GATE: "`+gate+`" }
        run: |
          echo before
          while [ ! -f "$GATE" ]; do sleep 0.02; done
          echo after
`, runs.StartRequest{})
	f.eventually("the first line is in the log", func() bool {
		_, body := f.get(c, fmt.Sprintf("/runs/%d", id))
		return strings.Contains(body, `id="L-build-slow-1"`)
	})
	_, body := f.get(c, fmt.Sprintf("/runs/%d", id))
	live := regexp.MustCompile(`data-live="([^"]+)"`).FindStringSubmatch(body)
	if live == nil {
		t.Fatal("the page of a running run has no live stream")
	}
	res, err := c.Get(f.srv.URL + strings.ReplaceAll(live[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("live: %s %q", res.Status, ct)
	}
	os.WriteFile(gate, nil, 0o644)
	events := readEvents(t, bufio.NewScanner(res.Body), "finished")
	lines := strings.Join(events["line"], "\n")
	if !strings.Contains(lines, `"t":"after"`) || strings.Contains(lines, `"t":"before"`) {
		t.Errorf("live lines %s: want the new line only (the page has the first)", lines)
	}
	if !strings.Contains(strings.Join(events["state"], "\n"), `{"action":"build/slow","state":"succeeded"`) {
		t.Errorf("live states %v: want build/slow succeeded", events["state"])
	}
}

// readEvents reads server-sent events until one of kind last, by kind.
func readEvents(t *testing.T, sc *bufio.Scanner, last string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		kind := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				out[kind] = append(out[kind], strings.TrimPrefix(line, "data: "))
				if kind == last {
					return
				}
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s event in 30 s", last)
	}
	return out
}

func TestRunPageEscapesWhatRunsWrite(t *testing.T) {
	f := newFixture(t)
	c := f.login("alice", access.Viewer)
	ctx := context.Background()
	// Names in velocity.yml cannot hold markup; the journal is written
	// directly, to check the page escapes whatever it holds.
	id, err := f.store.CreateRun(ctx, store.Run{Project: "p<script>alert(1)</script>", Status: store.Running,
		Trigger: "push by <script>alert(2)</script>", Commit: "<script>alert(3)</script>", Created: time.Now()},
		[]store.Action{{StageIndex: 0, Stage: "build", Name: "<script>alert(4)</script>", Kind: store.KindAction, Status: store.Pending}})
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "log")
	os.WriteFile(logFile, []byte("<script>alert(5)</script>\n\x1b[31m<img src=x onerror=alert(6)>\n"), 0o644)
	at := store.Attempt{RunID: id, Stage: "build", Action: "<script>alert(4)</script>", N: 1, Status: store.Running, Log: logFile, Started: time.Now()}
	if err := f.store.StartAttempt(ctx, at); err != nil {
		t.Fatal(err)
	}
	_, body := f.get(c, fmt.Sprintf("/runs/%d", id))
	for _, bad := range []string{"<script>alert", "<img src=x"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page carries %q unescaped", bad)
		}
	}
	contains(t, body, "&lt;script&gt;alert(5)&lt;/script&gt;", "&lt;img src=x onerror=alert(6)&gt;",
		// Escaped for HTML, not percent-encoded: live.js compares it with
		// the stream's names.
		`<g class="node" data-action="build/&lt;script&gt;alert(4)&lt;/script&gt;"`)
	_, body = f.get(c, "/")
	if strings.Contains(body, "<script>alert") {
		t.Error("the dashboard carries a run's markup unescaped")
	}
}

func TestRunPageOfAMissingRunIs404(t *testing.T) {
	f := newFixture(t)
	c := f.login("alice", access.Viewer)
	for _, p := range []string{"/runs/99", "/runs/x"} {
		if res, _ := f.get(c, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s, want 404", p, res.Status)
		}
	}
}

// TestRunPageOfFiftyActionsIsLight keeps the run page of a large run
// within its budget (bench/web measures its time too).
func TestRunPageOfFiftyActionsIsLight(t *testing.T) {
	f := newFixture(t)
	c := f.login("alice", access.Viewer)
	ctx := context.Background()
	var acts []store.Action
	for i := range 50 {
		acts = append(acts, store.Action{StageIndex: i / 17, Stage: fmt.Sprintf("stage%d", i/17), Name: fmt.Sprintf("action-%02d", i), Kind: store.KindAction, Status: store.Pending})
	}
	id, err := f.store.CreateRun(ctx, store.Run{Project: "big", Status: store.Running, Created: time.Now()}, acts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, a := range acts {
		log := filepath.Join(dir, a.Name)
		os.WriteFile(log, []byte(strings.Repeat(fmt.Sprintf("\x1b[32mok\x1b[0m  github.com/example/app/pkg%02d\t0.012s\n", i), 10)), 0o644)
		at := store.Attempt{RunID: id, Stage: a.Stage, Action: a.Name, N: 1, Status: store.Running, Log: log, Started: time.Now()}
		f.store.StartAttempt(ctx, at)
		at.Status, at.Finished = store.Succeeded, time.Now()
		f.store.FinishAttempt(ctx, at, true, false)
	}
	_, body := f.get(c, fmt.Sprintf("/runs/%d", id))
	if n := strings.Count(body, `<g class="node"`); n != 50 {
		t.Fatalf("%d nodes, want 50", n)
	}
	if len(body) >= 200<<10 {
		t.Errorf("the run page of 50 actions weighs %d bytes, over 200 KB", len(body))
	}
}
