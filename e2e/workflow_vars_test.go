package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Variables survive a kill -9: the first state assigns $label and $total
// (recorded in its …StateExited event), the Map of slow commands is
// killed half way, and after `workflow resume` the last state still reads
// the values assigned before the crash, from the journal.
func TestWorkflowVariablesSurviveAKill(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "appended.txt")
	dir := project(t, map[string]string{
		"vars.asl.json": `{"StartAt": "Setup", "States": {
			"Setup": {"Type": "Pass", "Assign": {"label.$": "States.Format('batch-{}', $.batch)", "items.$": "$.items"}, "Next": "Each"},
			"Each": {"Type": "Map", "ItemsPath": "$items", "MaxConcurrency": 4,
				"ItemSelector": {"item.$": "$$.Map.Item.Value", "label.$": "$label"},
				"ItemProcessor": {"StartAt": "Append", "States": {"Append": {"Type": "Task", "Resource": "arn:velocity:command",
					"Parameters": {"Command": "cat >/dev/null; sleep 0.05; echo \"$ITEM\" >> \"$OUT\"; echo \"$ITEM\"", "Env": {"OUT": "` + out + `", "ITEM.$": "States.Format('{}', $.item)"}},
					"End": true}}},
				"Assign": {"total.$": "States.ArrayLength($)"},
				"Next": "Report"},
			"Report": {"Type": "Pass", "Parameters": {"label.$": "$label", "total.$": "$total"}, "End": true}}}`,
	})
	var items []string
	for i := range 200 {
		items = append(items, itoa(i))
	}
	input := `{"batch": 7, "items": [` + strings.Join(items, ",") + `]}`
	cmd := e.command(dir, "workflow", "run", "vars.asl.json", "--input", input, "--name", "vars", "--json")
	var stdout strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if strings.Count(string(b), "\n") >= 40 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the Map never got to 40 items:\n%s", stdout.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	time.Sleep(200 * time.Millisecond)

	if r := e.run(dir, "workflow", "resume"); r.code != 0 {
		t.Fatalf("resume: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	m := waitStatus(t, e, dir, "vars", 60*time.Second)
	if m["status"] != "SUCCEEDED" || m["output"] != `{"total":200,"label":"batch-7"}` {
		t.Fatalf("after resume: %v", m)
	}
	// The history shows the assignment as GetExecutionHistory does.
	r := e.run(dir, "workflow", "history", "vars", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"assignedVariables":{"items":"[`) ||
		!strings.Contains(r.stdout, `"label":"\"batch-7\""`) || !strings.Contains(r.stdout, `"assignedVariablesDetails":{"truncated":false}`) {
		t.Errorf("history: exit %d\n%.2000s", r.code, r.stdout)
	}
}

// The kinds of published AWS samples Velocity refused or ignored: a
// custom States.* error name (validates with a warning), an unquoted
// filter literal, a duplicate key (warning, last wins) and a Distributed
// Map's ResultWriter, whose manifest lands below the definition's
// directory.
func TestWorkflowRealWorldKindsValidateAndRun(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"quorum.asl.json": `{"StartAt": "Vote", "States": {
			"Vote": {"Type": "Parallel", "Branches": [{"StartAt": "Enough", "States": {
				"Enough": {"Type": "Fail", "Error": "States.QuorumMet", "Cause": "2 of 3"}}}],
				"Catch": [{"ErrorEquals": ["States.QuorumMet"], "ResultPath": "$.quorum", "Next": "Pick"}], "End": true},
			"Pick": {"Type": "Pass", "Comment": "first", "Comment": "second",
				"Parameters": {"receipt.$": "$.Labels[?(@.Name==Receipt)].Confidence", "quorum.$": "$.quorum.Error"}, "Next": "Fan"},
			"Fan": {"Type": "Map", "ItemsPath": "$.receipt", "Label": "Fan",
				"ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
					"StartAt": "Keep", "States": {"Keep": {"Type": "Pass", "End": true}}},
				"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "receipts"}},
				"End": true}}}`,
		"input.json": `{"Labels": [{"Name": "Receipt", "Confidence": 97.5}, {"Name": "Other", "Confidence": 50}]}`,
	})
	r := e.run(dir, "workflow", "validate", "quorum.asl.json")
	if r.code != 0 || !strings.Contains(r.stderr, `warning: quorum.asl.json:`) ||
		!strings.Contains(r.stderr, `error name "States.QuorumMet" is not a predefined error`) ||
		!strings.Contains(r.stderr, `duplicate field "Comment"`) {
		t.Fatalf("validate: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	r = e.run(dir, "workflow", "run", "quorum.asl.json", "--input", "@input.json", "--json")
	var res struct {
		Status string
		Output struct {
			MapRunArn           string
			ResultWriterDetails struct{ Bucket, Key string }
		}
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.Status != "SUCCEEDED" ||
		res.Output.ResultWriterDetails.Bucket != "out" || !strings.HasPrefix(res.Output.ResultWriterDetails.Key, "receipts/") {
		t.Fatalf("run: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	var manifest struct {
		ResultFiles map[string][]struct{ Key string }
	}
	data, err := os.ReadFile(filepath.Join(dir, "out", res.Output.ResultWriterDetails.Key))
	if err != nil || json.Unmarshal(data, &manifest) != nil || len(manifest.ResultFiles["SUCCEEDED"]) != 1 {
		t.Fatalf("manifest: %v\n%s", err, data)
	}
	results, err := os.ReadFile(filepath.Join(dir, "out", manifest.ResultFiles["SUCCEEDED"][0].Key))
	if err != nil || !strings.Contains(string(results), `"Output":"97.5"`) {
		t.Errorf("SUCCEEDED file: %v\n%s", err, results)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
