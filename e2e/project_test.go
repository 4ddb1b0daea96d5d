package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// teamServer is a velocity serve with --listen and a token of each role.
type teamServer struct {
	*server
	env    *env
	api    string
	tokens map[string]string
}

func startTeamServer(t *testing.T) *teamServer {
	t.Helper()
	e := newEnv(t)
	cmd := e.command(t.TempDir(), "serve", "--listen", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0")
	srv := &server{cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = srv.out, srv.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(srv.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-srv.done })
	ts := &teamServer{server: srv, env: e, tokens: map[string]string{}}
	ts.api = srv.waitFor(t, regexp.MustCompile(`API at (http://127\.0\.0\.1:\d+)`), 20*time.Second)[1]
	for _, role := range []string{"admin", "developer", "viewer"} {
		r := e.run(t.TempDir(), "token", "create", "the-"+role, "--role", role)
		if r.code != 0 {
			t.Fatalf("token create %s: exit %d\n%s", role, r.code, r.stderr)
		}
		ts.tokens[role] = strings.TrimSpace(r.stdout)
	}
	return ts
}

// projectRun is a run as GET /api/v1/projects/NAME/runs lists it.
type projectRun struct {
	ID      int64  `json:"id"`
	Commit  string `json:"commit"`
	Status  string `json:"status"`
	Trigger string `json:"trigger"`
}

func (ts *teamServer) projectRuns(t *testing.T, name string) []projectRun {
	t.Helper()
	code, body := call(t, "GET", ts.api+"/api/v1/projects/"+name+"/runs", ts.tokens["viewer"], "")
	// Polling runs into the token's rate limit (10 a second after a
	// burst of 50) on a slow machine: wait as the server says.
	for tries := 0; code == 429 && tries < 50; tries++ {
		time.Sleep(200 * time.Millisecond)
		code, body = call(t, "GET", ts.api+"/api/v1/projects/"+name+"/runs", ts.tokens["viewer"], "")
	}
	if code != 200 {
		t.Fatalf("GET runs of %s: %d %s", name, code, body)
	}
	var list []projectRun
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("runs of %s %q: %v", name, body, err)
	}
	return list
}

// waitRun waits until the project has a finished run of commit and
// returns it.
func (ts *teamServer) waitRun(t *testing.T, name, commit string) projectRun {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, r := range ts.projectRuns(t, name) {
			if r.Commit == commit && r.Status != "running" && r.Status != "pending" {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no finished run of %s at %.12s; runs: %+v\nserver:\n%s", name, commit, ts.projectRuns(t, name), ts.out)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// githubPush sends a GitHub push webhook for commit, signed with secret.
func githubPush(t *testing.T, url, delivery, before, after string, secret []byte) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"ref":"refs/heads/main","before":%q,"after":%q,"repository":{"full_name":"team/app"},"pusher":{"name":"octocat"}}`, before, after)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(body))
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func commitFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "change "+name)
	return git(t, dir, "rev-parse", "HEAD")
}

// TestServerRunsEveryCommitOfAProject: a project added to velocity serve
// runs for a push to the built-in git remote and for a signed GitHub
// webhook; a wrong signature gets 401 and no run, and a delivery sent
// twice gives one run.
func TestServerRunsEveryCommitOfAProject(t *testing.T) {
	ts := startTeamServer(t)
	repo := project(t, map[string]string{
		"velocity.yml": `
name: app
stages:
  - name: build
    actions:
      - { name: test, run: 'test -f README && echo "tested $VELOCITY_COMMIT"' }
`,
		"README": "one\n",
	})
	git(t, repo, "init", "-q")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "import")
	secret := []byte("a webhook secret")
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, secret, 0o600)
	if r := ts.env.run(t.TempDir(), "project", "add", "app", "--repo", repo, "--webhook-secret-file", secretFile); r.code != 0 {
		t.Fatalf("project add: exit %d\n%s", r.code, r.stderr)
	}

	// git push to the built-in remote, the token as password.
	work := t.TempDir()
	git(t, work, "clone", "-q", "http://velocity:"+ts.tokens["viewer"]+"@"+strings.TrimPrefix(ts.api, "http://")+"/git/app.git", ".")
	pushed := commitFile(t, work, "README", "two\n")
	git(t, work, "push", "-q", "http://velocity:"+ts.tokens["developer"]+"@"+strings.TrimPrefix(ts.api, "http://")+"/git/app.git", "main")
	run := ts.waitRun(t, "app", pushed)
	if run.Status != "succeeded" || run.Trigger != "push by the-developer" {
		t.Errorf("the pushed commit's run: %+v", run)
	}

	// A webhook for a commit of the project's repository.
	before := git(t, repo, "rev-parse", "HEAD")
	hooked := commitFile(t, repo, "CHANGES", "webhook\n")
	url := ts.api + "/hooks/github/app"
	if code, body := githubPush(t, url, "delivery-2", before, hooked, []byte("not the secret")); code != 401 {
		t.Errorf("a wrong signature: %d %s", code, body)
	}
	code, body := githubPush(t, url, "delivery-1", before, hooked, secret)
	if code != 202 || !strings.Contains(body, `"outcome":"accepted"`) {
		t.Fatalf("a signed push: %d %s", code, body)
	}
	if code, body := githubPush(t, url, "delivery-1", before, hooked, secret); code != 200 || !strings.Contains(body, `"outcome":"duplicate"`) {
		t.Errorf("the same delivery again: %d %s", code, body)
	}
	run = ts.waitRun(t, "app", hooked)
	if run.Status != "succeeded" || run.Trigger != "webhook delivery delivery-1 (github, push by octocat)" {
		t.Errorf("the webhook's run: %+v", run)
	}
	// Let a second run of the delivery, if one were queued, show up.
	time.Sleep(300 * time.Millisecond)
	n := 0
	for _, r := range ts.projectRuns(t, "app") {
		if r.Commit == hooked {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d runs of the webhook's commit, want 1 (the wrong signature and the redelivery start none)", n)
	}
}

// TestProjectRoles: no token 401; a viewer cannot trigger (403); a
// developer triggers and approves; only an admin adds a project.
func TestProjectRoles(t *testing.T) {
	ts := startTeamServer(t)
	repo := project(t, map[string]string{
		"velocity.yml": `
name: gated
stages:
  - name: build
    actions:
      - { name: build, run: "echo built" }
  - name: production
    approval: manual
    actions:
      - { name: release, run: "echo released" }
`,
	})
	git(t, repo, "init", "-q")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "import")
	add := fmt.Sprintf(`{"name": "gated", "repo": %q}`, repo)
	if code, body := call(t, "POST", ts.api+"/api/v1/projects", "", add); code != 401 {
		t.Errorf("no token adds a project: %d %s", code, body)
	}
	if code, body := call(t, "POST", ts.api+"/api/v1/projects", ts.tokens["developer"], add); code != 403 {
		t.Errorf("a developer adds a project: %d %s", code, body)
	}
	if code, body := call(t, "POST", ts.api+"/api/v1/projects", ts.tokens["admin"], add); code != 201 {
		t.Fatalf("an admin adds a project: %d %s", code, body)
	}
	if code, body := call(t, "GET", ts.api+"/api/v1/projects/gated/runs", "", ""); code != 401 {
		t.Errorf("no token lists runs: %d %s", code, body)
	}
	if code, body := call(t, "POST", ts.api+"/api/v1/projects/gated/runs", ts.tokens["viewer"], ""); code != 403 {
		t.Errorf("a viewer triggers a run: %d %s", code, body)
	}
	code, body := call(t, "POST", ts.api+"/api/v1/projects/gated/runs", ts.tokens["developer"], `{"ref": "main"}`)
	if code != 202 || !strings.Contains(body, `"trigger":"manual by token the-developer"`) {
		t.Fatalf("a developer triggers a run: %d %s", code, body)
	}
	head := git(t, repo, "rev-parse", "HEAD")

	// The run waits for approval of production: a viewer may not give
	// it, a developer may.
	var id int64
	deadline := time.Now().Add(60 * time.Second)
	for id == 0 {
		for _, r := range ts.projectRuns(t, "gated") {
			if r.Commit == head {
				id = r.ID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the triggered run never started:\n%s", ts.out)
		}
		time.Sleep(150 * time.Millisecond)
	}
	approve := ts.api + "/api/v1/runs/" + strconv.FormatInt(id, 10) + "/approve"
	decision := `{"stage": "production", "approved": true, "by": "e2e"}`
	if code, body := call(t, "POST", approve, ts.tokens["viewer"], decision); code != 403 {
		t.Errorf("a viewer approves: %d %s", code, body)
	}
	for {
		code, body := call(t, "POST", approve, ts.tokens["developer"], decision)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a developer approves: %d %s", code, body)
		}
		time.Sleep(150 * time.Millisecond)
	}
	if run := ts.waitRun(t, "gated", head); run.Status != "succeeded" {
		t.Errorf("the approved run: %+v", run)
	}
}
