package cli

import (
	"strings"
	"testing"
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
