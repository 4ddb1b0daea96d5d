package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// webProject packages edgeApp behind a gate file (so that a browser sees
// the action's log while it runs) and deploys it to production after a
// manual approval.
func webProject(t *testing.T, gate string) string {
	return project(t, map[string]string{
		"app.py":      edgeApp,
		"version.txt": "one\n",
		"velocity.yml": `
name: shop
env: { GATE: "` + gate + `" }
stages:
  - name: build
    actions:
      - name: package
        run: |
          echo "packaging $(cat version.txt)"
          while [ ! -f "$GATE" ]; do sleep 0.05; done
          mkdir -p out && cp app.py version.txt out/
          echo "packaged"
        outputs: [out]
  - name: production
    approval: manual
    actions:
      - { name: deploy, deploy: web, environment: production }
services:
  web:
    from: package
    run: exec python3 out/app.py
    health: { http: /healthz, interval: 200ms }
    drain: 1s
environments:
  production: {}
`,
	})
}

// newestRun waits for a run of project other than those in seen and
// returns its id.
func (ts *teamServer) newestRun(t *testing.T, project string, commit string) int64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, r := range ts.projectRuns(t, project) {
			if r.Commit == commit {
				return r.ID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no run of %.12s:\n%s", commit, ts.out)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// serving is what the service answers through the proxy.
func serving(t *testing.T, proxy string) string {
	t.Helper()
	_, body := get(t, proxy, "web.production.localhost", "/")
	return strings.TrimSpace(body)
}

// TestWebUIFromPushToRollback drives the web UI in a real Chromium: a
// pushed commit's run page shows the log while the action runs and its
// node turns green; approving in the page deploys to production; the
// deployments page rolls back; a workflow execution with a Map shows its
// item counts. It saves the screenshots of docs/web.md (refreshed with
// VELOCITY_SCREENSHOTS=1).
func TestWebUIFromPushToRollback(t *testing.T) {
	requireTool(t, "python3")
	b := newBrowser(t)
	ts := startTeamServer(t)
	proxy := ts.waitFor(t, regexp.MustCompile(`serving; proxy at http://(127\.0\.0\.1:\d+)`), time.Second)[1]
	gate := filepath.Join(t.TempDir(), "gate")
	repo := webProject(t, gate)
	git(t, repo, "init", "-q")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "one")
	if r := ts.env.run(t.TempDir(), "project", "add", "shop", "--repo", repo); r.code != 0 {
		t.Fatalf("project add: %s", r.stderr)
	}
	remote := "http://velocity:" + ts.tokens["developer"] + "@" + strings.TrimPrefix(ts.api, "http://") + "/git/shop.git"

	// Log in with a developer's token.
	b.do(t, 30*time.Second,
		chromedp.Navigate(ts.api+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="token"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), ts.tokens["developer"]),
		chromedp.Submit(chromedp.CSS(`input[name="token"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr.project[data-project="shop"]`)),
	)

	// A push starts a run; its page shows the log while the action runs.
	work := t.TempDir()
	git(t, work, "clone", "-q", remote, ".")
	first := commitFile(t, work, "README", "first\n")
	git(t, work, "push", "-q", remote, "main")
	id := ts.newestRun(t, "shop", first)
	runPage := ts.api + "/runs/" + strconv.FormatInt(id, 10)
	b.do(t, 30*time.Second, chromedp.Navigate(runPage))
	b.do(t, 30*time.Second, chromedp.WaitVisible(chromedp.CSS(`section.action-log[data-action="build/package"] li`)))
	if text := browserGet(t, b, 10*time.Second, chromedp.Text(chromedp.CSS(`section.action-log[data-action="build/package"]`))); !strings.Contains(text, "packaging one") {
		t.Errorf("the running action's log shows %q", text)
	}
	if state := browserGet(t, b, 10*time.Second, chromedp.AttributeValue(chromedp.CSS(`g.node[data-action="build/package"]`), "data-state")); state.Value != "running" {
		t.Errorf("the running action's node is %q", state.Value)
	}
	os.WriteFile(gate, nil, 0o644)
	b.do(t, 60*time.Second,
		chromedp.WaitReady(chromedp.CSS(`g.node[data-action="build/package"][data-state="succeeded"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.approve button[value="approve"]`)),
	)
	b.screenshot(t, "run")

	// Approve in the page: production is deployed.
	b.do(t, 30*time.Second, chromedp.Click(chromedp.CSS(`form.approve button[value="approve"]`)))
	if run := ts.waitRun(t, "shop", first); run.Status != "succeeded" {
		t.Fatalf("the approved run: %+v\n%s", run, ts.out)
	}
	if got := serving(t, proxy); !strings.HasPrefix(got, "release one") {
		t.Fatalf("production serves %q after the approval", got)
	}

	// A second release, approved through the API.
	os.WriteFile(filepath.Join(work, "version.txt"), []byte("two\n"), 0o644)
	second := commitFile(t, work, "README", "second\n")
	git(t, work, "push", "-q", remote, "main")
	id = ts.newestRun(t, "shop", second)
	approve := ts.api + "/api/v1/runs/" + strconv.FormatInt(id, 10) + "/approve"
	for deadline := time.Now().Add(60 * time.Second); ; {
		code, body := call(t, "POST", approve, ts.tokens["developer"], `{"stage": "production", "approved": true, "by": "e2e"}`)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("approving the second release: %d %s", code, body)
		}
		time.Sleep(150 * time.Millisecond)
	}
	ts.waitRun(t, "shop", second)
	if got := serving(t, proxy); !strings.HasPrefix(got, "release two") {
		t.Fatalf("production serves %q after the second release", got)
	}

	// Roll back from the deployments page.
	rollback := `section.environment[data-environment="production"] tr.service[data-service="web"] form.rollback button`
	b.do(t, 30*time.Second, chromedp.Navigate(ts.api+"/deployments"), chromedp.WaitVisible(chromedp.CSS(rollback)))
	if traffic := browserGet(t, b, 10*time.Second, chromedp.TextContent(chromedp.CSS(`section.traffic[data-service="web"]`))); !strings.Contains(traffic, "Requests/s") {
		t.Errorf("the service's traffic section: %q", traffic)
	}
	b.screenshot(t, "deployments")
	b.do(t, 60*time.Second, chromedp.Click(chromedp.CSS(rollback)), chromedp.WaitVisible(chromedp.CSS(`section.environment`)))
	deadline := time.Now().Add(30 * time.Second)
	for !strings.HasPrefix(serving(t, proxy), "release one") {
		if time.Now().After(deadline) {
			t.Fatalf("production serves %q after the rollback", serving(t, proxy))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A workflow execution with a Map shows its item counts.
	dir := project(t, map[string]string{"map.asl.json": `{
  "StartAt": "Each",
  "States": {
    "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
      "ItemProcessor": {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "End": true}}},
      "End": true}
  }
}`})
	if r := ts.env.run(dir, "workflow", "run", "map.asl.json", "--input", `{"items": [1, 2, 3]}`); r.code != 0 {
		t.Fatalf("workflow run: %s", r.stderr)
	}
	b.do(t, 30*time.Second,
		chromedp.Navigate(ts.api+"/executions"),
		chromedp.Click(chromedp.CSS(`a[href^="/executions/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.item-counts[data-state-name="Each"]`)),
	)
	if counts := browserGet(t, b, 10*time.Second, chromedp.Text(chromedp.CSS(`.item-counts[data-state-name="Each"]`))); !strings.Contains(counts, "3 succeeded") {
		t.Errorf("the Map's item counts: %q", counts)
	}
	b.screenshot(t, "execution")

	// The dashboard and the DORA page, for the docs.
	b.do(t, 30*time.Second, chromedp.Navigate(ts.api+"/"), chromedp.WaitVisible(chromedp.CSS(`tr.project[data-project="shop"]`)))
	b.screenshot(t, "dashboard")
	b.do(t, 30*time.Second, chromedp.Navigate(ts.api+"/projects/shop/dora"), chromedp.WaitVisible(chromedp.CSS(`main`)))
	b.screenshot(t, "dora")
}
