package cli

import (
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// With VELOCITY_SERVER set, the command line never quietly falls back to
// the local data directory: a command either talks to that server or
// says it cannot yet; the server's own commands stay local.
func TestVelocityServerIsHonouredOrRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("VELOCITY_SERVER", "http://127.0.0.1:1")
	for _, c := range []struct {
		token string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"runs"}, ExitUsage, "VELOCITY_SERVER is set (http://127.0.0.1:1) but VELOCITY_TOKEN is not"},
		{"vel_x", []string{"workspaces", "clean"}, ExitUsage, "'velocity workspaces' does not work with a remote server yet, and VELOCITY_SERVER is set"},
		{"vel_x", []string{"workflow", "list"}, ExitUsage, "'velocity workflow' does not work with a remote server yet"},
		{"vel_x", []string{"show", "1"}, ExitFailed, "cannot reach the server VELOCITY_SERVER=http://127.0.0.1:1"},
		{"vel_x", []string{"secret", "list"}, ExitUsage, "'velocity secret' does not work with a remote server yet"},
		{"vel_x", []string{"token", "list"}, ExitOK, ""},
	} {
		t.Setenv("VELOCITY_TOKEN", c.token)
		code, _, stderr := velocityOn(t, dir, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
		if c.token != "" && strings.Contains(stderr, c.token) {
			t.Errorf("%v: the token is in the error: %q", c.args, stderr)
		}
	}
	t.Setenv("VELOCITY_SERVER", "127.0.0.1:8080")
	if code, _, stderr := velocityOn(t, dir, "runs"); code != ExitUsage || !strings.Contains(stderr, "is not the URL of a velocity server") {
		t.Errorf("a server without a scheme: exit %d, %q", code, stderr)
	}
}

// velocity logs RUN ACTION prints one action's lines bare, with a header
// and a verdict around each attempt only when it took several, as from
// the local logs.
func TestRemoteLogOfOneActionMarksItsAttempts(t *testing.T) {
	started := func(n, of int) runs.Event {
		return runs.Event{AttemptStarted: &runs.AttemptStarted{Action: "build/test", Attempt: n, Of: of}}
	}
	line := func(action string, n int, text string) runs.Event {
		return runs.Event{Output: &runs.Output{Action: action, Attempt: n, Text: text}}
	}
	finished := func(n int, status store.Status, reason string, final bool) runs.Event {
		return runs.Event{AttemptFinished: &runs.AttemptFinished{Action: "build/test", Attempt: n, Status: status, Reason: reason, Final: final}}
	}
	for _, c := range []struct {
		name   string
		only   string
		events []runs.Event
		want   string
	}{
		{"one attempt", "build/test", []runs.Event{
			started(1, 0), line("build/test", 1, "ok"), line("build/other", 1, "not this"), finished(1, store.Succeeded, "", true),
		}, "ok\n"},
		{"a retry", "build/test", []runs.Event{
			started(1, 2), line("build/test", 1, "flaky"), finished(1, store.Failed, "exit status 1", false),
			started(2, 2), line("build/test", 2, "ok"), finished(2, store.Succeeded, "", true),
		}, "--- attempt 1 ---\nflaky\n--- attempt 1 failed: exit status 1 ---\n--- attempt 2 ---\nok\n"},
		{"still running", "build/test", []runs.Event{started(1, 2), line("build/test", 1, "so far")}, "so far\n"},
		{"every action", "", []runs.Event{
			started(1, 2), line("build/test", 1, "flaky"), finished(1, store.Failed, "", false),
			started(2, 2), line("build/test", 2, "ok"), line("build/other", 1, "other"),
		}, "[build/test] flaky\n[build/test attempt 2] ok\n[build/other] other\n"},
	} {
		var out strings.Builder
		p := &remoteLog{a: &app{stdout: &out}, only: c.only}
		for _, e := range c.events {
			p.handle(e)
		}
		p.flush()
		if out.String() != c.want {
			t.Errorf("%s: %q, want %q", c.name, out.String(), c.want)
		}
	}
}
