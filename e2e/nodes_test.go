package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store/postgres/pgtest"
)

// nodeLeaseTTL is the lease TTL the nodes of these tests run with: short,
// so that a takeover is quick to watch.
const nodeLeaseTTL = 3 * time.Second

// startNode starts a velocity serve on a data directory of its own,
// sharing the journal (VELOCITY_STORE) and the shared directory
// (VELOCITY_SHARED_DIR) the test set, and returns it once its API
// listens.
func startNode(t *testing.T) *teamServer {
	t.Helper()
	e := newEnv(t)
	cmd := e.command(t.TempDir(), "serve", "--listen", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0", "--lease-ttl", nodeLeaseTTL.String())
	srv := &server{cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = srv.out, srv.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(srv.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-srv.done })
	ts := &teamServer{server: srv, env: e, tokens: map[string]string{}}
	ts.api = srv.waitFor(t, regexp.MustCompile(`API at (http://127\.0\.0\.1:\d+)`), 20*time.Second)[1]
	return ts
}

// cluster starts the shared parts of nodes: a PostgreSQL schema and a
// shared directory, set for every velocity the test starts, and the
// tokens (made once: they live in the shared journal).
func cluster(t *testing.T) (shared string, tokens map[string]string) {
	t.Setenv("VELOCITY_STORE", pgtest.Schema(t))
	shared = t.TempDir()
	t.Setenv("VELOCITY_SHARED_DIR", shared)
	// Webhook secrets are sealed with it: every node has the same.
	t.Setenv("VELOCITY_SECRET_KEY", strings.Repeat("5e", 32))
	e := newEnv(t)
	tokens = map[string]string{}
	for _, role := range []string{"admin", "developer", "viewer"} {
		r := e.run(t.TempDir(), "token", "create", "the-"+role, "--role", role)
		if r.code != 0 {
			t.Fatalf("token create %s: exit %d\n%s", role, r.code, r.stderr)
		}
		tokens[role] = strings.TrimSpace(r.stdout)
	}
	return shared, tokens
}

// nodeRun is a run as the API shows it.
type nodeRun struct {
	Run struct {
		ID      int64     `json:"id"`
		Status  string    `json:"status"`
		Reason  string    `json:"reason"`
		Trigger string    `json:"trigger"`
		Created time.Time `json:"created"`
	} `json:"run"`
	Actions []struct {
		Name       string `json:"name"`
		Status     string `json:"status"`
		Attempts   int    `json:"attempts"`
		CachedFrom int64  `json:"cached_from"`
	} `json:"actions"`
}

func showRun(t *testing.T, ts *teamServer, id int64) nodeRun {
	t.Helper()
	code, body := call(t, "GET", fmt.Sprintf("%s/api/v1/runs/%d", ts.api, id), ts.tokens["viewer"], "")
	if code != 200 {
		t.Fatalf("GET run %d: %d %s", id, code, body)
	}
	var r nodeRun
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("run %d %q: %v", id, body, err)
	}
	return r
}

// A run started through node A, whose node is killed with SIGKILL after
// its first action finished, is finished by node B within the lease TTL
// and a few seconds: B resumes it, reusing the first action's result and
// outputs (from the shared directory) instead of executing it again. B
// then accepts a push and a webhook whose secret A sealed.
func TestNodeTakesOverTheRunOfADeadNode(t *testing.T) {
	requireTool(t, "git")
	_, tokens := cluster(t)
	marks := t.TempDir()
	repo := project(t, map[string]string{
		"velocity.yml": fmt.Sprintf(`
name: app
stages:
  - name: build
    actions:
      - name: first
        run: 'echo "$VELOCITY_RUN_ID" >> %[1]s/first && mkdir -p out && echo made > out/first.txt'
        outputs: [out/first.txt]
      - name: second
        needs: [first]
        run: 'test -f out/first.txt && echo "$VELOCITY_RUN_ID" >> %[1]s/second && sleep 4'
`, marks),
	})
	git(t, repo, "init", "-q")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "import")

	secret := []byte("a webhook secret")
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	a := startNode(t)
	a.tokens = tokens
	if r := a.env.run(t.TempDir(), "project", "add", "app", "--repo", repo, "--webhook-secret-file", secretFile); r.code != 0 {
		t.Fatalf("project add: exit %d\n%s", r.code, r.stderr)
	}
	if code, body := call(t, "POST", a.api+"/api/v1/projects/app/runs", tokens["developer"], `{}`); code != 202 {
		t.Fatalf("POST a run through node A: %d %s", code, body)
	}
	// The second action started: the first finished, and its result is
	// journaled.
	waitFile(t, filepath.Join(marks, "second"))
	runs := a.projectRuns(t, "app")
	if len(runs) != 1 || runs[0].Status != "running" {
		t.Fatalf("runs on node A: %+v", runs)
	}
	first := runs[0].ID

	b := startNode(t)
	b.tokens = tokens
	// Any node tells which node executes the run, with its load, by the
	// nodes' next heartbeats.
	waitNodes(t, b, func(list []apiNode) bool {
		for _, n := range list {
			if n.Addr == a.api && n.Up && slices.Equal(n.Runs, []int64{first}) && n.Actions == 1 {
				return len(list) == 2
			}
		}
		return false
	})
	// Node B passes the run's live events to node A, which executes it:
	// A's stream (B's replay would say A's logs are not on B).
	streamed := liveEvents(t, fmt.Sprintf("%s/api/v1/runs/%d/events", b.api, first), tokens["viewer"], `"attempt_started"`)
	if streamed.executedBy == "" || strings.Contains(streamed.body, "is not on this node") {
		t.Errorf("events of run %d through node B: executed by %q\n%s", first, streamed.executedBy, streamed.body)
	}
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done
	killed := time.Now()
	// Node A's data directory is on its own machine: node B takes over
	// with the journal and the shared directory alone.
	if err := os.RemoveAll(a.env.home); err != nil {
		t.Fatal(err)
	}

	var resumed nodeRun
	deadline := killed.Add(nodeLeaseTTL + 20*time.Second)
	for resumed.Run.ID == 0 {
		for _, r := range b.projectRuns(t, "app") {
			if r.ID != first && r.Status != "running" && r.Status != "pending" {
				resumed = showRun(t, b, r.ID)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node B finished no run of app %v after node A died; runs: %+v\nnode B:\n%s", time.Since(killed), b.projectRuns(t, "app"), b.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("node A killed; node B started run %d, taking over run %d, %v later and finished it %v later",
		resumed.Run.ID, first, resumed.Run.Created.Sub(killed).Round(100*time.Millisecond), took.Round(100*time.Millisecond))
	if resumed.Run.Status != "succeeded" {
		t.Fatalf("the run taken over: %+v\nnode B:\n%s", resumed, b.out)
	}
	if old := showRun(t, b, first); old.Run.Status != "interrupted" {
		t.Errorf("the run of node A is %s (%s), want interrupted", old.Run.Status, old.Run.Reason)
	}
	// The dead node's logs stayed in its data directory: node B says so
	// rather than showing nothing.
	if code, body := call(t, "GET", fmt.Sprintf("%s/api/v1/runs/%d/events", b.api, first), tokens["viewer"], ""); code != 200 ||
		!strings.Contains(body, "the log of build/first attempt 1 is not on this node") {
		t.Errorf("events of run %d on node B: %d\n%s", first, code, body)
	}
	for _, act := range resumed.Actions {
		if act.Name == "first" && (act.Status != "cached" || act.CachedFrom != first) {
			t.Errorf("the first action on node B: %+v; want its result reused from run %d", act, first)
		}
	}
	if got := strings.Fields(readFile(t, filepath.Join(marks, "first"))); len(got) != 1 {
		t.Errorf("the first action executed %d times (runs %v), want once", len(got), got)
	}
	if !strings.Contains(b.out.String(), fmt.Sprintf("run %d lost its node; taken over as run %d", first, resumed.Run.ID)) {
		t.Errorf("node B did not say it took the run over:\n%s", b.out)
	}

	// Node A, silent since, is down; node B is up and executes nothing.
	waitNodes(t, b, func(list []apiNode) bool {
		up := map[string]bool{}
		for _, n := range list {
			up[n.Addr] = n.Up
		}
		return len(list) == 2 && !up[a.api] && up[b.api]
	})
	if r := b.env.run(t.TempDir(), "nodes"); r.code != 0 || !strings.Contains(r.stdout, b.api) || !strings.Contains(r.stdout, "down") {
		t.Errorf("velocity nodes on node B: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The dead node's mirror was the shared one: node B takes a push.
	work := t.TempDir()
	remote := "http://velocity:" + tokens["developer"] + "@" + strings.TrimPrefix(b.api, "http://") + "/git/app.git"
	git(t, work, "clone", "-q", remote, ".")
	pushed := commitFile(t, work, "README", "pushed\n")
	git(t, work, "push", "-q", remote, "main")
	if run := b.waitRun(t, "app", pushed); run.Status != "succeeded" {
		t.Errorf("the run of a push to node B: %+v\nnode B:\n%s", run, b.out)
	}
	// So does a webhook whose secret node A sealed.
	before := git(t, repo, "rev-parse", "HEAD")
	hooked := commitFile(t, repo, "CHANGES", "webhook\n")
	if code, body := githubPush(t, b.api+"/hooks/github/app", "delivery-1", before, hooked, secret); code != 202 {
		t.Fatalf("a signed webhook to node B: %d %s", code, body)
	}
	if run := b.waitRun(t, "app", hooked); run.Status != "succeeded" {
		t.Errorf("the run of a webhook to node B: %+v\nnode B:\n%s", run, b.out)
	}
}

// A schedule due every two seconds fires once per due time with two
// nodes up: of the two schedulers, one takes each fire from the shared
// journal, and the other follows its phase.
func TestTwoNodesFireAScheduleOnce(t *testing.T) {
	requireTool(t, "git")
	_, tokens := cluster(t)
	repo := project(t, map[string]string{
		"velocity.yml": `
name: ticker
schedules:
  - { name: tick, cron: "@every 2s" }
stages:
  - name: build
    actions:
      - { name: tick, run: 'echo tick' }
`,
	})
	git(t, repo, "init", "-q")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "import")
	// The node that takes a fire logs it, with its due time.
	t.Setenv("VELOCITY_DEBUG", "1")
	// Both nodes are up before the project exists: each scheduler finds
	// the schedule at its own moment, neither after a fire of the other.
	a := startNode(t)
	a.tokens = tokens
	b := startNode(t)
	b.tokens = tokens
	if r := a.env.run(t.TempDir(), "project", "add", "ticker", "--repo", repo, "--mode", "parallel"); r.code != 0 {
		t.Fatalf("project add: exit %d\n%s", r.code, r.stderr)
	}
	// Nodes find a project added elsewhere within seconds (they list
	// the projects again now and then); from the first fire on, both
	// know the schedule.
	fired := regexp.MustCompile(`msg="schedule fires".* due=(\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for !fired.MatchString(a.out.String()) && !fired.MatchString(b.out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("the schedule never fired; node A:\n%s\nnode B:\n%s", a.out, b.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	const watch = 10 * time.Second
	time.Sleep(watch)
	var dues []time.Time
	seen := map[string]string{}
	for name, n := range map[string]*teamServer{"A": a, "B": b} {
		for _, m := range fired.FindAllStringSubmatch(n.out.String(), -1) {
			if other, ok := seen[m[1]]; ok {
				t.Errorf("due time %s fired on node %s and on node %s", m[1], other, name)
			}
			seen[m[1]] = name
			due, err := time.Parse(time.RFC3339Nano, m[1])
			if err != nil {
				t.Fatalf("due time %q: %v", m[1], err)
			}
			dues = append(dues, due)
		}
	}
	slices.SortFunc(dues, time.Time.Compare)
	t.Logf("%d fires of the schedule with two nodes up, %v after the first: %v", len(dues), watch, seen)
	if len(dues) < 3 {
		t.Fatalf("%d fires of the schedule, %v after the first; node A:\n%s\nnode B:\n%s", len(dues), watch, a.out, b.out)
	}
	for i := 1; i < len(dues); i++ {
		if gap := dues[i].Sub(dues[i-1]); gap < 2*time.Second {
			t.Errorf("fires due %v apart, closer than the schedule's 2s: %v", gap, dues)
		}
	}
	runs := 0
	for _, r := range a.projectRuns(t, "ticker") {
		if strings.HasPrefix(r.Trigger, "schedule tick") || strings.HasPrefix(r.Trigger, "missed schedule tick") {
			runs++
		}
	}
	if runs > len(dues) {
		t.Errorf("%d runs of the schedule for %d fires", runs, len(dues))
	}
	if strings.Contains(a.out.String()+b.out.String(), "panic") {
		t.Errorf("a node panicked:\nnode A:\n%s\nnode B:\n%s", a.out, b.out)
	}
}

// apiNode is a node as GET /api/v1/nodes lists it.
type apiNode struct {
	ID      string  `json:"id"`
	Addr    string  `json:"addr"`
	Up      bool    `json:"up"`
	Runs    []int64 `json:"runs"`
	Actions int     `json:"actions"`
}

// waitNodes waits until the nodes ts lists satisfy ok, and returns them.
func waitNodes(t *testing.T, ts *teamServer, ok func([]apiNode) bool) []apiNode {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := call(t, "GET", ts.api+"/api/v1/nodes", ts.tokens["viewer"], "")
		var list []apiNode
		if code == 200 {
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				t.Fatalf("nodes %q: %v", body, err)
			}
			if ok(list) {
				return list
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /api/v1/nodes: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// streamed is the start of an event stream.
type streamed struct {
	executedBy string // the Velocity-Executed-By header
	body       string
}

// liveEvents reads the event stream at url until a line contains want,
// and leaves it there: the run goes on.
func liveEvents(t *testing.T, url, token, want string) streamed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		sb.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), want) {
			return streamed{executedBy: resp.Header.Get("Velocity-Executed-By"), body: sb.String()}
		}
	}
	t.Fatalf("GET %s: %s; no %s in\n%s", url, resp.Status, want, sb.String())
	return streamed{}
}
