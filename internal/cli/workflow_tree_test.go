package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A child execution whose input is over the 256 KiB quota is refused by
// the task that starts it (States.DataLimitExceeded, which a Catch can
// handle) instead of being recorded, refused at its start, and left
// RUNNING for every later command to resume and refuse again.
func TestChildInputOverTheQuotaFailsTheTask(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"pass.asl.json": `{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`,
		"parent.asl.json": `{"StartAt": "Start", "States": {"Start": {"Type": "Task",
			"Resource": "arn:aws:states:::states:startExecution.sync:2",
			"Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:pass",
				"Input": {"x.$": "$.a", "y.$": "$.a"}}, "End": true}}}`,
		"input.json": `{"a": "` + strings.Repeat("x", 200000) + `"}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb strings.Builder
	code := Main(ctx, testOptions(), []string{"--data-dir", home, "-C", dir, "workflow", "run", "parent.asl.json", "--input", "@input.json", "--json"}, nil, &out, &errb)
	if code != ExitFailed || !strings.Contains(out.String(), `"error":"States.DataLimitExceeded"`) {
		t.Errorf("exit %d: %s%s", code, out.String(), errb.String())
	}
	out.Reset()
	Main(context.Background(), testOptions(), []string{"--data-dir", home, "workflow", "list", "--status", "RUNNING"}, nil, &out, io.Discard)
	if strings.Contains(out.String(), "pass") {
		t.Errorf("a refused child was left running:\n%s", out.String())
	}
}
