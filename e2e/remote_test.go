package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// remoteCLI runs the velocity command line as on another machine: in its
// own working directory, with a data directory of its own that stays
// empty, pointed at a server by VELOCITY_SERVER and VELOCITY_TOKEN.
type remoteCLI struct {
	t      *testing.T
	dir    string
	home   string
	server string
}

func (c *remoteCLI) command(token string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Dir = c.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VELOCITY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "CI=true", "VELOCITY_HOME="+c.home, "VELOCITY_SERVER="+c.server, "VELOCITY_TOKEN="+token)
	return cmd
}

func (c *remoteCLI) run(token string, args ...string) result {
	c.t.Helper()
	cmd := c.command(token, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		c.t.Fatalf("velocity %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// startListener starts velocity serve --listen on a free port over e's data
// directory and returns its API's URL.
func startListener(t *testing.T, e *env) string {
	t.Helper()
	cmd := e.command(t.TempDir(), "serve", "--listen", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0")
	srv := &server{cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = srv.out, srv.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(srv.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-srv.done })
	return srv.waitFor(t, regexp.MustCompile(`API at (http://127\.0\.0\.1:\d+)`), 20*time.Second)[1]
}

// startAPIRun starts a run of dir through the API and returns its number.
func startAPIRun(t *testing.T, api, token, dir string) string {
	t.Helper()
	start, _ := json.Marshal(map[string]any{"dir": dir, "jobs": 1})
	code, body := call(t, "POST", api+"/api/v1/runs", token, string(start))
	var started struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &started); code != 201 || err != nil || started.ID == 0 {
		t.Fatalf("POST /api/v1/runs: %d %s", code, body)
	}
	return strconv.FormatInt(started.ID, 10)
}

// waitForPendingApproval polls the run's details until a stage waits.
func waitForPendingApproval(t *testing.T, api, token, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, body := call(t, "GET", api+"/api/v1/runs/"+id, token, "")
		if strings.Contains(body, `"status":"pending"`) {
			return
		}
		// Slower than the token's rate (10 a second), which the
		// commands of the test share.
		time.Sleep(150 * time.Millisecond)
	}
	t.Fatalf("run %s never waited for approval", id)
}

// TestCommandLineTalksToARemoteServer: with VELOCITY_SERVER and
// VELOCITY_TOKEN, velocity runs, show, logs, watch, approve and rerun
// work on the server's runs from elsewhere, print what they print
// locally, and say clearly when the token is refused.
func TestCommandLineTalksToARemoteServer(t *testing.T) {
	e := newEnv(t)
	api := startListener(t, e)
	tokens := map[string]string{}
	for _, role := range []string{"developer", "viewer"} {
		r := e.run(t.TempDir(), "token", "create", "the-"+role, "--role", role)
		if r.code != 0 {
			t.Fatalf("token create %s: exit %d\n%s", role, r.code, r.stderr)
		}
		tokens[role] = strings.TrimSpace(r.stdout)
	}
	dir := project(t, map[string]string{"velocity.yml": `
name: far-away
stages:
  - name: build
    actions:
      - { name: compile, run: "echo compiled; echo twice" }
  - name: release
    approval: manual
    actions:
      - { name: ship, run: echo shipped }
`})
	gitProject(t, dir)
	id := startAPIRun(t, api, tokens["developer"], dir)
	cli := &remoteCLI{t: t, dir: t.TempDir(), home: t.TempDir(), server: api}

	// Following from the start: watch and logs -f, until the run ends.
	var watchOut, logsOut, watchErr bytes.Buffer
	watch := cli.command(tokens["viewer"], "watch", id)
	watch.Stdout, watch.Stderr = &watchOut, &watchErr
	logs := cli.command(tokens["viewer"], "logs", id, "-f")
	logs.Stdout, logs.Stderr = &logsOut, &watchErr
	for _, cmd := range []*exec.Cmd{watch, logs} {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
	}

	waitForPendingApproval(t, api, tokens["viewer"], id)
	if r := cli.run(tokens["viewer"], "runs"); r.code != 0 || !regexp.MustCompile(`(?m)^`+id+`\s+\w+\s+far-away\s`).MatchString(r.stdout) {
		t.Errorf("velocity runs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli.run(tokens["viewer"], "logs", id, "compile"); r.code != 0 || r.stdout != "compiled\ntwice\n" {
		t.Errorf("velocity logs %s compile while the run waits: exit %d %q %s", id, r.code, r.stdout, r.stderr)
	}

	// Approving takes a developer: the viewer gets the server's reason.
	r := cli.run(tokens["viewer"], "approve", id)
	if r.code != 1 || !strings.Contains(r.stderr, "has role viewer") || !strings.Contains(r.stderr, "needs developer") {
		t.Errorf("a viewer's approve: exit %d\n%s", r.code, r.stderr)
	}
	r = cli.run("vel_not-a-token", "runs")
	if r.code != 1 || !strings.Contains(r.stderr, "the server refused the token (VELOCITY_TOKEN)") || strings.Contains(r.stderr, "not-a-token") {
		t.Errorf("a wrong token: exit %d\n%s", r.code, r.stderr)
	}
	r = cli.run(tokens["developer"], "approve", id)
	if r.code != 0 || r.stdout != "stage release of run "+id+" approved\n" {
		t.Errorf("a developer's approve: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for name, cmd := range map[string]*exec.Cmd{"watch": watch, "logs -f": logs} {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("velocity %s: %v\n%s", name, err, watchErr.String())
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("velocity %s did not end with the run", name)
		}
	}
	if !strings.Contains(watchOut.String(), "[release/ship] shipped") || !strings.Contains(watchOut.String(), "succeeded") {
		t.Errorf("velocity watch:\n%s", watchOut.String())
	}
	if want := "[build/compile] compiled\n[build/compile] twice\n[release/ship] shipped\n"; logsOut.String() != want {
		t.Errorf("velocity logs -f: %q, want %q", logsOut.String(), want)
	}

	// The same output as on the server's own machine.
	for _, args := range [][]string{{"runs"}, {"show", id}, {"logs", id}} {
		remote, local := cli.run(tokens["viewer"], args...), e.run(t.TempDir(), args...)
		if remote.code != 0 || remote.stdout != local.stdout {
			t.Errorf("velocity %v remote (exit %d):\n%s%s\nlocal:\n%s", args, remote.code, remote.stdout, remote.stderr, local.stdout)
		}
	}
	if entries, _ := os.ReadDir(cli.home); len(entries) != 0 {
		t.Errorf("the remote command line wrote to its own data directory: %v", entries)
	}

	// A rerun starts on the server and is followed here; a developer may.
	if r := cli.run(tokens["viewer"], "rerun", id); r.code != 1 || !strings.Contains(r.stderr, "needs developer") {
		t.Errorf("a viewer's rerun: exit %d\n%s", r.code, r.stderr)
	}
	quick := project(t, map[string]string{"velocity.yml": `
name: quick
stages:
  - name: build
    actions:
      - { name: hello, run: echo hello again }
`})
	gitProject(t, quick)
	first := startAPIRun(t, api, tokens["developer"], quick)
	runFinished(t, api+"/api/v1/runs/"+first+"/events", tokens["viewer"])
	r = cli.run(tokens["developer"], "rerun", first)
	if r.code != 0 || !strings.Contains(r.stdout, "[build/hello] hello again") {
		t.Errorf("velocity rerun %s: exit %d\n%s%s", first, r.code, r.stdout, r.stderr)
	}
	if r := cli.run(tokens["developer"], "cancel", first); r.code != 2 || !strings.Contains(r.stderr, "has ended") {
		t.Errorf("cancelling a finished run: exit %d\n%s", r.code, r.stderr)
	}

	waiting := startAPIRun(t, api, tokens["developer"], dir)
	waitForPendingApproval(t, api, tokens["viewer"], waiting)
	if r := cli.run(tokens["developer"], "cancel", waiting); r.code != 0 || !strings.Contains(r.stdout, "run "+waiting+" cancelled") {
		t.Errorf("velocity cancel %s: exit %d\n%s%s", waiting, r.code, r.stdout, r.stderr)
	}
	if status := runFinished(t, api+"/api/v1/runs/"+waiting+"/events", tokens["viewer"]); status != "cancelled" {
		t.Errorf("the cancelled run finished %q", status)
	}

	// What does not work remotely says so instead of showing local state.
	if r := cli.run(tokens["viewer"], "releases", "staging", "web"); r.code != 2 || !strings.Contains(r.stderr, "'velocity releases' does not work with a remote server yet") {
		t.Errorf("velocity releases with VELOCITY_SERVER: exit %d\n%s", r.code, r.stderr)
	}
	down := &remoteCLI{t: t, dir: cli.dir, home: cli.home, server: "http://127.0.0.1:1"}
	if r := down.run(tokens["viewer"], "runs"); r.code != 1 || !strings.Contains(r.stderr, "cannot reach the server VELOCITY_SERVER=http://127.0.0.1:1") {
		t.Errorf("no server there: exit %d\n%s", r.code, r.stderr)
	}
}
