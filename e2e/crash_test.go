package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/velocity-ci/velocity/internal/executor/executortest"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// This file kills `velocity serve` with SIGKILL in the middle of its work,
// the way a crash or the kernel's OOM killer does, and starts it again on
// the same data directory.

// serveAPI starts velocity serve with its API on a free TCP port and
// returns it with the API's base URL. The server is killed at the end of
// the test if it still runs.
func serveAPI(t *testing.T, e *env) (*server, string) {
	t.Helper()
	cmd := e.command(t.TempDir(), "serve", "--listen", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0")
	s := &server{cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	api := s.waitFor(t, regexp.MustCompile(`API at (http://127\.0\.0\.1:\d+)`), 30*time.Second)[1]
	s.addr = s.waitFor(t, regexp.MustCompile(`serving; proxy at http://(127\.0\.0\.1:\d+)`), 30*time.Second)[1]
	return s, api
}

// crash kills the server process alone with SIGKILL (not its process
// group: a crash takes down one process) and waits until it is gone.
func (s *server) crash(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("velocity serve still runs after SIGKILL")
	}
}

// stop stops the server the way Ctrl-C does and waits until it is gone.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("velocity serve still runs after SIGTERM:\n%s", s.out)
	}
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v; last seen:\n%s", what, d, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServerKilledDuringARunLeavesNoOrphansAndResumesTheRun: a run
// started through the API of velocity serve is executing an action (with
// a child in its group, a child that left the group with setsid, and a
// sidecar) when the server is killed with SIGKILL. Every one of those
// processes is gone, without waiting for a new server. The next server
// records the run as interrupted, saying why, and resumes it as a new run
// that reuses the action the first one finished and executes the rest; a
// second restart changes nothing.
func TestServerKilledDuringARunLeavesNoOrphansAndResumesTheRun(t *testing.T) {
	e := newEnv(t)
	pids := t.TempDir()
	dir := project(t, map[string]string{"velocity.yml": `
name: crashing
stages:
  - name: build
    actions:
      - { name: first, run: "echo first" }
      - name: hang
        needs: [first]
        cache: false
        env: { PIDS: "` + pids + `" }
        sidecars:
          - name: helper
            run: 'echo $$ > "$PIDS/sidecar.tmp"; mv "$PIDS/sidecar.tmp" "$PIDS/sidecar.pid"; exec sleep 100'
            ready: 'test -s "$PIDS/sidecar.pid"'
        # Hangs the first time; once resumed, finishes.
        run: |
          if [ -e "$PIDS/sh.pid" ]; then echo "resumed"; exit 0; fi
          sleep 100 &
          echo $! > "$PIDS/bg.pid"
          setsid sleep 100 &
          echo $! > "$PIDS/daemon.pid"
          echo $$ > "$PIDS/sh.pid"
          sleep 100
      - name: after
        needs: [hang]
        run: echo after
`})
	gitProject(t, dir)
	r := e.run(t.TempDir(), "token", "create", "ci", "--role", "developer")
	if r.code != 0 {
		t.Fatalf("token create: exit %d\n%s", r.code, r.stderr)
	}
	token := strings.TrimSpace(r.stdout)

	srv, api := serveAPI(t, e)
	id := runThroughAPI(t, api, token, dir)
	var procs []int
	for _, name := range []string{"sidecar", "bg", "daemon", "sh"} {
		procs = append(procs, atoi(t, waitFile(t, filepath.Join(pids, name+".pid"))))
	}
	if show := e.run(t.TempDir(), "show", id); !strings.Contains(show.stdout, "running") {
		t.Fatalf("before the crash the run should be running:\n%s%s", show.stdout, show.stderr)
	}

	srv.crash(t)
	// Nothing of the run outlives its server, even before a new one starts.
	executortest.WaitGone(t, 20*time.Second, procs...)
	// The resumed run's sidecar writes its own pid: the old one's file
	// must not make it look ready before then.
	if err := os.Remove(filepath.Join(pids, "sidecar.pid")); err != nil {
		t.Fatal(err)
	}

	again, api := serveAPI(t, e)
	resumed := again.waitFor(t, regexp.MustCompile(`run `+id+` was interrupted by the last stop; resuming it as run (\d+)`), 30*time.Second)[1]
	if status := runFinished(t, api+"/api/v1/runs/"+resumed+"/events", token); status != "succeeded" {
		t.Fatalf("the resumed run finished %q:\n%s", status, e.run(t.TempDir(), "show", resumed).stdout)
	}
	show := e.run(t.TempDir(), "show", id)
	if show.code != 0 || !strings.Contains(show.stdout, "interrupted") || strings.Contains(show.stdout, "running") {
		t.Fatalf("after the restart the run must show as interrupted, never running:\n%s%s", show.stdout, show.stderr)
	}
	if !strings.Contains(show.stdout, "velocity serve stopped while the run was in progress (killed or crashed)") {
		t.Errorf("velocity show does not say why the run was interrupted:\n%s", show.stdout)
	}
	if !regexp.MustCompile(`✓ first\b`).MatchString(show.stdout) || !regexp.MustCompile(`- after\b.*skipped`).MatchString(show.stdout) {
		t.Errorf("the finished action keeps its outcome and the one that never started is skipped:\n%s", show.stdout)
	}
	got := journalActions(t, e.home, int64(atoi(t, resumed)))
	if got["first"].CachedFrom != int64(atoi(t, id)) {
		t.Errorf("the resumed run did not reuse first from run %s: %+v", id, got["first"])
	}
	for _, name := range []string{"hang", "after"} {
		if a := got[name]; a.Status != store.Succeeded || a.CachedFrom != 0 {
			t.Errorf("the resumed run did not execute %s again: %+v", name, a)
		}
	}
	t.Logf("the resumed run:\n%s", e.run(t.TempDir(), "show", resumed).stdout)
	// The resumed run's sidecar ends with it.
	executortest.WaitGone(t, 20*time.Second, atoi(t, waitFile(t, filepath.Join(pids, "sidecar.pid"))))
	list := e.run(t.TempDir(), "runs")
	if !regexp.MustCompile(`(?m)^\s*`+id+`\b.*interrupted`).MatchString(list.stdout) || !regexp.MustCompile(`(?m)^\s*`+resumed+`\b.*succeeded`).MatchString(list.stdout) {
		t.Errorf("velocity runs:\n%s", list.stdout)
	}

	// A second restart finds nothing left to settle or resume.
	again.stop(t)
	later, _ := serveAPI(t, e)
	if after := e.run(t.TempDir(), "show", id); after.stdout != show.stdout {
		t.Errorf("a second restart changed the run:\nbefore:\n%s\nafter:\n%s", show.stdout, after.stdout)
	}
	if after := e.run(t.TempDir(), "runs"); after.stdout != list.stdout {
		t.Errorf("a second restart changed the runs:\nbefore:\n%s\nafter:\n%s", list.stdout, after.stdout)
	}
	if strings.Contains(later.out.String(), "resuming") {
		t.Errorf("the second restart resumed a run again:\n%s", later.out)
	}
}

// journalActions reads run id's actions from the journal, by name.
func journalActions(t *testing.T, home string, id int64) map[string]store.Action {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(home, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	actions, err := st.Actions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]store.Action{}
	for _, a := range actions {
		byName[a.Name] = a
	}
	return byName
}

// runThroughAPI starts a run of dir on the server at api and returns its id.
func runThroughAPI(t *testing.T, api, token, dir string) string {
	t.Helper()
	start, _ := json.Marshal(map[string]any{"dir": dir, "jobs": 2})
	code, body := call(t, "POST", api+"/api/v1/runs", token, string(start))
	if code != 201 {
		t.Fatalf("POST /api/v1/runs: %d %s", code, body)
	}
	var started struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &started); err != nil || started.ID == 0 {
		t.Fatalf("started run %q: %v", body, err)
	}
	return strconv.FormatInt(started.ID, 10)
}

// pidLines reads the pids a file lists, one a line.
func pidLines(t *testing.T, path string) []int {
	t.Helper()
	var pids []int
	for _, f := range strings.Fields(readFile(t, path)) {
		pids = append(pids, atoi(t, f))
	}
	return pids
}

// TestServerKilledDuringADeployLeavesNoOrphanInstances: release r1 of a
// service is live when the server is killed with SIGKILL in the middle of
// deploying r2, whose instance (and a child it started) is not healthy
// yet. No instance of either release outlives the server. The next server
// marks the deploy and its run interrupted, brings r1 back, and resumes
// the run, whose deploy of the same release then succeeds.
func TestServerKilledDuringADeployLeavesNoOrphanInstances(t *testing.T) {
	requireTool(t, "python3")
	e := newEnv(t)
	pids := t.TempDir()
	dir := project(t, map[string]string{
		"app.py":      edgeApp,
		"version.txt": "one\n",
		"velocity.yml": `
stages:
  - name: build
    actions:
      - { name: package, run: "mkdir -p out && cp app.py version.txt out/", outputs: [out] }
  - name: prod
    actions:
      - { name: deploy, deploy: api, environment: prod }
services:
  api:
    from: package
    env: { PIDS: "` + pids + `" }
    # The first instance of release "two" starts a child and never
    # listens: its deploy waits for a health check that gets no answer.
    run: |
      if grep -q two out/version.txt && [ ! -e "$PIDS/stuck" ]; then
        sleep 100 &
        echo $! >> "$PIDS/stuck"
        echo $$ >> "$PIDS/stuck"
        exec sleep 100
      fi
      echo $$ >> "$PIDS/live"
      exec python3 out/app.py
    health: { http: /healthz, interval: 200ms }
    drain: 1s
    deadline: 5m
environments:
  prod: {}
`,
	})
	gitProject(t, dir)
	r := e.run(t.TempDir(), "token", "create", "ci", "--role", "developer")
	if r.code != 0 {
		t.Fatalf("token create: exit %d\n%s", r.code, r.stderr)
	}
	token := strings.TrimSpace(r.stdout)
	const host = "api.prod.localhost"

	srv, api := serveAPI(t, e)
	first := runThroughAPI(t, api, token, dir)
	if status := runFinished(t, api+"/api/v1/runs/"+first+"/events", token); status != "succeeded" {
		t.Fatalf("the first deploy finished %q:\n%s", status, srv.out)
	}
	if code, body := get(t, srv.addr, host, "/"); code != 200 || !strings.HasPrefix(body, "release one ") {
		t.Fatalf("release one answered %d %q", code, body)
	}
	if err := os.WriteFile(filepath.Join(dir, "version.txt"), []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "commit", "-qam", "two")
	second := runThroughAPI(t, api, token, dir)
	waitUntil(t, 30*time.Second, "the release's first instance writes its pids", func() (bool, string) {
		b, _ := os.ReadFile(filepath.Join(pids, "stuck"))
		return len(strings.Fields(string(b))) == 2, string(b)
	})
	procs := append(pidLines(t, filepath.Join(pids, "stuck")), pidLines(t, filepath.Join(pids, "live"))...)

	srv.crash(t)
	executortest.WaitGone(t, 20*time.Second, procs...)

	srv, api = serveAPI(t, e)
	srv.waitFor(t, regexp.MustCompile(`prod/api: deploy of release r2 was interrupted by the last stop`), 30*time.Second)
	resumed := srv.waitFor(t, regexp.MustCompile(`run `+second+` was interrupted by the last stop; resuming it as run (\d+)`), 30*time.Second)[1]
	if status := runFinished(t, api+"/api/v1/runs/"+resumed+"/events", token); status != "succeeded" {
		t.Fatalf("the resumed run finished %q:\n%s\nserver:\n%s", status, e.run(t.TempDir(), "show", resumed).stdout, srv.out)
	}
	if code, body := get(t, srv.addr, host, "/"); code != 200 || !strings.HasPrefix(body, "release two ") {
		t.Errorf("after the resumed run release two should answer: %d %q", code, body)
	}
	show := e.run(t.TempDir(), "show", second)
	if !strings.Contains(show.stdout, "velocity serve stopped while the run was in progress") || strings.Contains(show.stdout, "running") {
		t.Errorf("the run deploying when the server died must show as interrupted:\n%s%s", show.stdout, show.stderr)
	}
	releases := e.run(t.TempDir(), "releases", "prod", "api")
	if !regexp.MustCompile(`(?m)^\s*r2\b.*interrupted.*velocity serve stopped while the deploy was in progress`).MatchString(releases.stdout) ||
		!regexp.MustCompile(`(?m)^\s*\*\s+r3\s+`+resumed+`\b.*live`).MatchString(releases.stdout) {
		t.Errorf("velocity releases should show r2 interrupted and r3, of the resumed run, live:\n%s%s", releases.stdout, releases.stderr)
	}
}

// TestServerKilledDuringAWorkflowTaskLeavesNoOrphan: the command of a
// workflow execution's task (and its child) die with the server; the next
// server runs the task again and the execution finishes.
func TestServerKilledDuringAWorkflowTaskLeavesNoOrphan(t *testing.T) {
	e := newEnv(t)
	srv, api := listenServer(t, e)
	token := createToken(t, e, "the-developer", "developer")
	c := sfnClient(api, token)
	pids := t.TempDir()
	// The first attempt hangs; the one after the restart finishes.
	smARN := createMachine(t, c, "hang", `{"StartAt": "Hang", "States": {
		"Hang": {"Type": "Task", "Resource": "arn:velocity:command", "End": true,
			"Parameters": {"Command": "if [ -e `+pids+`/sh ]; then echo '{\"again\": true}'; exit 0; fi; sleep 100 & echo $! > `+pids+`/bg; echo $$ > `+pids+`/sh; sleep 100"}}}}`)
	arn := startExecution(t, c, smARN, "hanging", `{}`)
	procs := []int{atoi(t, waitFile(t, filepath.Join(pids, "bg"))), atoi(t, waitFile(t, filepath.Join(pids, "sh")))}

	srv.crash(t)
	executortest.WaitGone(t, 20*time.Second, procs...)

	_, api = listenServer(t, e)
	d := executionStatus(t, sfnClient(api, token), arn, types.ExecutionStatusSucceeded, 60*time.Second)
	if got := aws.ToString(d.Output); got != `{"again":true}` {
		t.Errorf("output after the restart %s", got)
	}
}
