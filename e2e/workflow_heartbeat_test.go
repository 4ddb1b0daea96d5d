package e2e

import "testing"

// A command task with HeartbeatSeconds keeps running past it while it
// writes to stderr (its heartbeats); a silent one fails with
// States.Timeout once HeartbeatSeconds pass.
func TestWorkflowCommandStderrKeepsHeartbeatAlive(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"beat.asl.json": `{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:velocity:command",
			"Parameters": {"Command": "for i in 1 2 3 4 5; do echo working >&2; sleep 0.5; done; echo '{\"done\": true}'"},
			"TimeoutSeconds": 30, "HeartbeatSeconds": 1, "End": true}}}`,
		"silent.asl.json": `{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:velocity:command",
			"Parameters": {"Command": "sleep 3; echo '{}'"},
			"TimeoutSeconds": 30, "HeartbeatSeconds": 1, "End": true}}}`,
	})
	if r := e.run(dir, "workflow", "run", "beat.asl.json", "--json"); r.code != 0 || r.stdout != `{"status":"SUCCEEDED","output":{"done":true}}`+"\n" {
		t.Errorf("a command writing to stderr every 0.5s: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := e.run(dir, "workflow", "run", "silent.asl.json", "--json"); r.code != 1 || r.stdout != `{"status":"FAILED","error":"States.Timeout"}`+"\n" {
		t.Errorf("a silent command: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
