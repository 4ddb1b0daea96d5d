package e2e

import (
	"strings"
	"testing"
	"time"
)

func TestManualApproval(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - { name: compile, run: echo compiled }
  - name: release
    approval: manual
    actions:
      - { name: ship, run: echo shipped }
`})
	// --approve: the demo path.
	r := e.run(dir, "run", "--approve")
	if r.code != 0 || !strings.Contains(r.stdout, "[release/ship] shipped") {
		t.Fatalf("--approve: exit %d\n%s", r.code, r.stdout)
	}
	for _, decision := range []string{"approve", "reject"} {
		t.Run(decision, func(t *testing.T) {
			cmd, out := startRun(t, e, dir, "--no-cache")
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(out.String(), "waits for approval") {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("never waited for approval:\n%s", out)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if strings.Contains(out.String(), "shipped") {
				t.Fatal("the stage ran before it was approved")
			}
			args := []string{"approve", "last"}
			if decision == "reject" {
				args = append(args, "--reject")
			}
			if r := e.run(dir, args...); r.code != 0 {
				t.Fatalf("velocity %v: exit %d %s", args, r.code, r.stderr)
			}
			cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			switch decision {
			case "approve":
				if code != 0 || !strings.Contains(out.String(), "[release/ship] shipped") {
					t.Errorf("approved: exit %d\n%s", code, out)
				}
			case "reject":
				if code != 1 || strings.Contains(out.String(), "shipped") || !strings.Contains(out.String(), "not approved") {
					t.Errorf("rejected: exit %d\n%s", code, out)
				}
			}
			if r := e.run(dir, "approve", "last"); r.code != 2 {
				t.Errorf("approving a run with nothing waiting: exit %d", r.code)
			}
		})
	}
}
