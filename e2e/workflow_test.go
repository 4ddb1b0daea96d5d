package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// describeJSON runs `workflow describe ID --json`.
func describeJSON(t *testing.T, e *env, dir, id string) map[string]any {
	t.Helper()
	r := e.run(dir, "workflow", "describe", id, "--json")
	if r.code != 0 {
		t.Fatalf("describe %s: exit %d\n%s", id, r.code, r.stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("describe %s: %v\n%s", id, err, r.stdout)
	}
	return m
}

// waitStatus polls an execution until its status is final.
func waitStatus(t *testing.T, e *env, dir, id string, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m := describeJSON(t, e, dir, id)
		if s := m["status"]; s != "RUNNING" && s != "PENDING" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still %v after %v", id, m["status"], within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestWorkflowRunJSON(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"greet.asl.json": `{"StartAt": "Greet", "States": {
			"Greet": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"}, "Next": "Shout"},
			"Shout": {"Type": "Task", "Resource": "arn:velocity:command", "Parameters": {"Command": "tr a-z A-Z", "greeting.$": "$.greeting"}, "End": true}}}`,
		"fail.asl.yaml": `
StartAt: Check
States:
  Check:
    Type: Task
    Resource: arn:velocity:command
    Parameters: { Command: "echo 'quota exceeded for account 7' >&2; exit 3" }
    End: true
`,
		"input.json": `{"who": "world"}`,
	})
	r := e.run(dir, "workflow", "run", "greet.asl.json", "--input", "@input.json", "--json")
	if r.code != 0 || r.stdout != `{"status":"SUCCEEDED","output":{"GREETING":"HELLO WORLD"}}`+"\n" {
		t.Fatalf("run --json: exit %d, stdout %q\nstderr %s", r.code, r.stdout, r.stderr)
	}
	r = e.run(dir, "workflow", "run", "fail.asl.yaml", "--json")
	if r.code != 1 || r.stdout != `{"status":"FAILED","error":"States.TaskFailed","cause":"quota exceeded for account 7"}`+"\n" {
		t.Fatalf("failing run --json: exit %d, stdout %q\nstderr %s", r.code, r.stdout, r.stderr)
	}
	// Without --json: the output alone on stdout, the verdict on stderr.
	r = e.run(dir, "workflow", "run", "greet.asl.json", "--input", `{"who": "you"}`)
	var out map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out["GREETING"] != "HELLO YOU" || !strings.Contains(r.stderr, "SUCCEEDED") {
		t.Errorf("run: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := e.run(dir, "workflow", "run", "greet.asl.json", "--input", `{nope`); r.code != 2 || !strings.Contains(r.stderr, "--input is not JSON") {
		t.Errorf("bad input: exit %d, stderr %q", r.code, r.stderr)
	}
	list := e.run(dir, "workflow", "list")
	if list.code != 0 || strings.Count(list.stdout, "SUCCEEDED") != 2 || strings.Count(list.stdout, "FAILED") != 1 {
		t.Errorf("list:\n%s%s", list.stdout, list.stderr)
	}
}

func TestWorkflowValidateReportsLocatedErrors(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"bad.asl.json": `{
  "StartAt": "First",
  "States": {
    "First": {"Type": "Pass", "Next": "Nowhere"},
    "Second": {"Type": "Task", "End": true}
  }
}`,
		"good.asl.json": `{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}`,
	})
	r := e.run(dir, "workflow", "validate", "bad.asl.json")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
	}
	line := regexp.MustCompile(`(?m)^bad\.asl\.json:(\d+):(\d+): (/States/\S+): (.+)$`)
	matches := line.FindAllStringSubmatch(r.stderr, -1)
	if len(matches) < 2 {
		t.Fatalf("want at least 2 located errors (unknown Next, Task without Resource), got:\n%s", r.stderr)
	}
	var pointers []string
	for _, m := range matches {
		pointers = append(pointers, m[3])
	}
	if !slices.ContainsFunc(pointers, func(p string) bool { return strings.HasPrefix(p, "/States/First") }) ||
		!slices.ContainsFunc(pointers, func(p string) bool { return strings.HasPrefix(p, "/States/Second") }) {
		t.Errorf("pointers %v, want errors in First and Second\n%s", pointers, r.stderr)
	}
	if matches[0][1] != "4" {
		t.Errorf("first error at line %s, want 4 (First's Next)\n%s", matches[0][1], r.stderr)
	}
	if r := e.run(dir, "workflow", "validate", "good.asl.json"); r.code != 0 || !strings.Contains(r.stdout, "valid") {
		t.Errorf("good: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	// run refuses an invalid definition the same way.
	if r := e.run(dir, "workflow", "run", "bad.asl.json", "--json"); r.code != 2 || r.stdout != "" || !line.MatchString(r.stderr) {
		t.Errorf("run of an invalid definition: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestWorkflowHistoryJSONHasTheGetExecutionHistoryShape(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"m.asl.json": `{"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.xs",
			"ItemProcessor": {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "End": true}}}, "End": true}}}`,
	})
	if r := e.run(dir, "workflow", "run", "m.asl.json", "--input", `{"xs": [1, 2]}`, "--name", "hist", "--json"); r.code != 0 {
		t.Fatalf("run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r := e.run(dir, "workflow", "history", "hist", "--json")
	if r.code != 0 {
		t.Fatalf("history: %d %s", r.code, r.stderr)
	}
	var h struct {
		Events []map[string]json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	var types []string
	for i, ev := range h.Events {
		var typ, ts string
		var id, prev int64
		json.Unmarshal(ev["type"], &typ)
		json.Unmarshal(ev["timestamp"], &ts)
		json.Unmarshal(ev["id"], &id)
		json.Unmarshal(ev["previousEventId"], &prev)
		types = append(types, typ)
		if id != int64(i+1) || prev >= id {
			t.Errorf("event %d: id %d previousEventId %d", i, id, prev)
		}
		if _, err := time.Parse(time.RFC3339, ts); err != nil {
			t.Errorf("event %d timestamp %q", i, ts)
		}
		// Besides the four common fields, at most one "…EventDetails".
		for k := range ev {
			switch k {
			case "id", "previousEventId", "timestamp", "type":
			default:
				if !strings.HasSuffix(k, "EventDetails") {
					t.Errorf("event %d has field %q", i, k)
				}
			}
		}
	}
	if types[0] != "ExecutionStarted" || types[len(types)-1] != "ExecutionSucceeded" ||
		!slices.Contains(types, "MapIterationSucceeded") || !slices.Contains(types, "PassStateEntered") {
		t.Errorf("types %v", types)
	}
	var started struct {
		Input string `json:"input"`
	}
	if err := json.Unmarshal(h.Events[0]["executionStartedEventDetails"], &started); err != nil || started.Input != `{"xs":[1,2]}` {
		t.Errorf("executionStartedEventDetails %s (%v)", h.Events[0]["executionStartedEventDetails"], err)
	}
	var entered struct {
		Name string `json:"name"`
	}
	json.Unmarshal(h.Events[1]["stateEnteredEventDetails"], &entered)
	if types[1] != "MapStateEntered" || entered.Name != "Each" {
		t.Errorf("second event %s %s", types[1], h.Events[1]["stateEnteredEventDetails"])
	}
}

// The crash test: kill -9 in the middle of a Map over 1,000 items;
// on restart the execution finishes, no iteration recorded as finished
// runs again, and only iterations in flight (at most MaxConcurrency) may.
func TestWorkflowKilledMidMapResumesWithoutRedoingFinishedItems(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "appended.txt")
	dir := project(t, map[string]string{
		"crash.asl.json": `{"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 10,
			"ItemProcessor": {"StartAt": "Append", "States": {"Append": {"Type": "Task", "Resource": "arn:velocity:command",
				"Parameters": {"Command": "read item; sleep 0.02; echo \"$item\" >> \"$OUT\"; echo \"$item\"", "Env": {"OUT": "` + out + `"}, "Input.$": "$"},
				"End": true}}},
			"ResultSelector": {"count.$": "States.ArrayLength($)"}, "End": true}}}`,
	})
	var items []string
	for i := range 1000 {
		items = append(items, fmt.Sprint(i))
	}
	input := `{"items": [` + strings.Join(items, ",") + `]}`
	cmd := e.command(dir, "workflow", "run", "crash.asl.json", "--input", input, "--name", "crash", "--json")
	var stdout strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once a good part, but not all, is done.
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if n := strings.Count(string(b), "\n"); n >= 300 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the Map never got to 300 items:\n%s", stdout.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	// What the journal says was finished at the moment of the crash, read
	// before any velocity command can resume the execution.
	finished := finishedIterations(t, e)
	if len(finished) < 250 || len(finished) >= 1000 {
		t.Fatalf("%d iterations recorded as finished at the crash; want a crash in the middle", len(finished))
	}
	time.Sleep(200 * time.Millisecond) // let the watchdog reap the killed tasks

	r := e.run(dir, "workflow", "resume")
	if r.code != 0 {
		t.Fatalf("resume: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	m := waitStatus(t, e, dir, "crash", 60*time.Second)
	if m["status"] != "SUCCEEDED" || m["output"] != `{"count":1000}` {
		t.Fatalf("after resume: %v", m)
	}
	counts := map[int]int{}
	for _, l := range strings.Fields(readFile(t, out)) {
		counts[atoi(t, l)]++
	}
	twice := 0
	for i := range 1000 {
		switch c := counts[i]; {
		case c == 0:
			t.Errorf("item %d was never appended", i)
		case c > 1 && finished[i]:
			t.Errorf("item %d had finished before the crash but was appended %d times", i, c)
		case c > 2:
			t.Errorf("item %d appended %d times", i, c)
		case c == 2:
			twice++
		}
	}
	if twice > 10 {
		t.Errorf("%d items appended twice; only the ones in flight (at most MaxConcurrency 10) may be", twice)
	}
	t.Logf("finished at the crash: %d, appended twice (in flight): %d", len(finished), twice)
}

// finishedIterations reads the Map iterations the journal records as
// succeeded, straight from the data directory's database.
func finishedIterations(t *testing.T, e *env) map[int]bool {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(e.home, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ex, err := st.Executions(ctx, store.ExecutionFilter{})
	if err != nil || len(ex) != 1 {
		t.Fatalf("executions %v %v", ex, err)
	}
	if ex[0].Status != store.ExecutionRunning {
		t.Fatalf("the killed execution is %s, want RUNNING", ex[0].Status)
	}
	events, err := st.Events(ctx, ex[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	done := map[int]bool{}
	for _, ev := range events {
		if ev.Type != "MapIterationSucceeded" {
			continue
		}
		var body struct {
			Details struct {
				Index int `json:"index"`
			} `json:"details"`
		}
		if err := json.Unmarshal(ev.Body, &body); err != nil {
			t.Fatal(err)
		}
		done[body.Details.Index] = true
	}
	return done
}

func TestWorkflowConcurrencyKeyRunsOneAtATimeInOrder(t *testing.T) {
	e := newEnv(t)
	log := filepath.Join(t.TempDir(), "log.txt")
	dir := project(t, map[string]string{
		"job.asl.json": `{"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "arn:velocity:command",
			"Parameters": {"Command": "echo \"start $NAME\" >> \"$LOG\"; sleep 0.4; echo \"end $NAME\" >> \"$LOG\"; echo '{}'",
				"Env": {"LOG": "` + log + `", "NAME.$": "$$.Execution.Name"}}, "End": true}}}`,
	})
	names := []string{"first", "second", "third", "fourth"}
	var ids []string
	for _, n := range names {
		r := e.run(dir, "workflow", "start", "job.asl.json", "--name", n, "--concurrency-key", "account-7", "--detach")
		if r.code != 0 {
			t.Fatalf("start %s: %d %s", n, r.code, r.stderr)
		}
		ids = append(ids, strings.TrimSpace(r.stdout))
	}
	// Another key is not held up by account-7's queue.
	other := e.run(dir, "workflow", "run", "job.asl.json", "--name", "elsewhere", "--concurrency-key", "account-8", "--json")
	if other.code != 0 {
		t.Fatalf("other key: %d %s %s", other.code, other.stdout, other.stderr)
	}
	for _, id := range ids {
		if m := waitStatus(t, e, dir, id, 60*time.Second); m["status"] != "SUCCEEDED" || m["concurrencyKey"] != "account-7" {
			t.Fatalf("execution %s: %v", id, m)
		}
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(readFile(t, log)), "\n") {
		if !strings.HasSuffix(l, "elsewhere") {
			lines = append(lines, l)
		}
	}
	var want []string
	for _, n := range names {
		want = append(want, "start "+n, "end "+n)
	}
	if !slices.Equal(lines, want) {
		t.Errorf("account-7's executions ran\n%s\nwant one at a time, in start order:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestWorkflowTaskTokenCompletedFromAnotherProcess(t *testing.T) {
	e := newEnv(t)
	tokens := t.TempDir()
	dir := project(t, map[string]string{
		"approve.asl.json": `{"StartAt": "Ask", "States": {
			"Ask": {"Type": "Task", "Resource": "arn:velocity:command.waitForTaskToken", "HeartbeatSeconds": 30,
				"Parameters": {"Command": "echo \"$VELOCITY_TASK_TOKEN\" > \"$DIR/$NAME\"", "Env": {"DIR": "` + tokens + `", "NAME.$": "$$.Execution.Name"}},
				"ResultPath": "$.decision", "Next": "Done"},
			"Done": {"Type": "Succeed"}}}`,
	})
	start := func(name string) string {
		r := e.run(dir, "workflow", "start", "approve.asl.json", "--name", name, "--input", `{"change": 42}`, "--detach")
		if r.code != 0 {
			t.Fatalf("start: %d %s", r.code, r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	yes, no := start("yes"), start("no")
	tokYes := waitFile(t, filepath.Join(tokens, "yes"))
	tokNo := waitFile(t, filepath.Join(tokens, "no"))
	if m := describeJSON(t, e, dir, yes); m["status"] != "RUNNING" || !slices.Contains(anyStrings(m["waitingTaskTokens"]), tokYes) {
		t.Fatalf("waiting execution: %v", m)
	}
	if r := e.run(dir, "workflow", "task", "heartbeat", tokYes); r.code != 0 {
		t.Errorf("heartbeat: %d %s", r.code, r.stderr)
	}
	if r := e.run(dir, "workflow", "task", "success", tokYes, "--output", `{"approved": true, "by": "alice"}`); r.code != 0 {
		t.Fatalf("success: %d %s", r.code, r.stderr)
	}
	if r := e.run(dir, "workflow", "task", "failure", tokNo, "--error", "Change.Rejected", "--cause", "not on a Friday"); r.code != 0 {
		t.Fatalf("failure: %d %s", r.code, r.stderr)
	}
	m := waitStatus(t, e, dir, yes, 30*time.Second)
	if m["status"] != "SUCCEEDED" || m["output"] != `{"change":42,"decision":{"approved":true,"by":"alice"}}` {
		t.Errorf("approved execution: %v", m)
	}
	m = waitStatus(t, e, dir, no, 30*time.Second)
	if m["status"] != "FAILED" || m["error"] != "Change.Rejected" || m["cause"] != "not on a Friday" {
		t.Errorf("rejected execution: %v", m)
	}
	// A token can be answered once.
	if r := e.run(dir, "workflow", "task", "success", tokYes); r.code != 1 || !strings.Contains(r.stderr, "already completed") {
		t.Errorf("second answer: %d %s", r.code, r.stderr)
	}
	if r := e.run(dir, "workflow", "task", "success", "no-such-token"); r.code != 1 || !strings.Contains(r.stderr, "TaskDoesNotExist") {
		t.Errorf("unknown token: %d %s", r.code, r.stderr)
	}
}

func TestWorkflowStopAbortsAWaitingExecution(t *testing.T) {
	e := newEnv(t)
	tokens := t.TempDir()
	dir := project(t, map[string]string{
		"wait.asl.json": `{"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "arn:velocity:command.waitForTaskToken",
			"Parameters": {"Command": "echo \"$VELOCITY_TASK_TOKEN\" > \"$F\"", "Env": {"F": "` + filepath.Join(tokens, "t") + `"}}, "End": true}}}`,
	})
	r := e.run(dir, "workflow", "start", "wait.asl.json", "--detach")
	if r.code != 0 {
		t.Fatalf("start: %d %s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	waitFile(t, filepath.Join(tokens, "t"))
	if r := e.run(dir, "workflow", "stop", id, "--error", "Operator.Stopped", "--cause", "wrong change"); r.code != 0 || !strings.Contains(r.stdout, "ABORTED") {
		t.Fatalf("stop: %d %s %s", r.code, r.stdout, r.stderr)
	}
	m := describeJSON(t, e, dir, id)
	if m["status"] != "ABORTED" || m["error"] != "Operator.Stopped" || m["cause"] != "wrong change" {
		t.Errorf("stopped: %v", m)
	}
	h := e.run(dir, "workflow", "history", id)
	if !strings.Contains(h.stdout, "ExecutionAborted") {
		t.Errorf("history does not end with the abort:\n%s", h.stdout)
	}
}

func TestWorkflowMocksRunARealDefinitionUnchanged(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		// A definition as deployed to AWS: Lambda and SQS, no local binding.
		"orders.asl.json": `{"StartAt": "Charge", "States": {
			"Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
				"Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:charge", "Payload.$": "$"},
				"Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 3}],
				"ResultSelector": {"charged.$": "$.Payload.charged"}, "ResultPath": "$.charge", "Next": "Notify"},
			"Notify": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
				"Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/orders", "MessageBody.$": "$"},
				"ResultPath": null, "End": true}}}`,
		"mocks.json": `{
			"StateMachines": {"orders": {"TestCases": {
				"Throttled": {"Charge": "ChargeThrottledOnce", "Notify": "SQSOK"},
				"Declined": {"Charge": "ChargeDeclined", "Notify": "SQSOK"}}}},
			"MockedResponses": {
				"ChargeThrottledOnce": {
					"0": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"}},
					"1": {"Return": {"StatusCode": 200, "Payload": {"charged": 12.5}}}},
				"ChargeDeclined": {"0": {"Throw": {"Error": "Card.Declined", "Cause": "insufficient funds"}}},
				"SQSOK": {"0": {"Return": {"MessageId": "m-1"}}}}}`,
	})
	r := e.run(dir, "workflow", "run", "orders.asl.json", "--input", `{"order": 1}`, "--mocks", "mocks.json", "--test-case", "Throttled", "--json")
	if r.code != 0 || r.stdout != `{"status":"SUCCEEDED","output":{"order":1,"charge":{"charged":12.5}}}`+"\n" {
		t.Fatalf("Throttled: %d %q %s", r.code, r.stdout, r.stderr)
	}
	h := e.run(dir, "workflow", "history", "last", "--json")
	if n := strings.Count(h.stdout, `"type":"TaskFailed"`); n != 1 {
		t.Errorf("want one failed attempt before the retry succeeded, history has %d TaskFailed", n)
	}
	r = e.run(dir, "workflow", "run", "orders.asl.json", "--mocks", "mocks.json", "--test-case", "orders#Declined", "--json")
	if r.code != 1 || r.stdout != `{"status":"FAILED","error":"Card.Declined","cause":"insufficient funds"}`+"\n" {
		t.Errorf("Declined: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := e.run(dir, "workflow", "run", "orders.asl.json", "--mocks", "mocks.json", "--test-case", "Nope"); r.code != 2 || !strings.Contains(r.stderr, "Declined, Throttled") {
		t.Errorf("unknown test case: %d %s", r.code, r.stderr)
	}
	// Without mocks, the unbound Lambda says how to bind it.
	r = e.run(dir, "workflow", "run", "orders.asl.json", "--json")
	if r.code != 1 || !strings.Contains(r.stdout, "Lambda.ResourceNotFoundException") || !strings.Contains(r.stdout, "--bindings") {
		t.Errorf("unbound: %d %s", r.code, r.stdout)
	}
}

func TestWorkflowBindingsRunLambdaAsACommand(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"score.asl.json": `{"StartAt": "Score", "States": {"Score": {"Type": "Task",
			"Resource": "arn:aws:lambda:us-east-1:123456789012:function:score", "End": true}}}`,
		"bindings.yml": "score: { run: \"sed 's/}/, \\\"score\\\": 9}/'\" }\n",
	})
	r := e.run(dir, "workflow", "run", "score.asl.json", "--input", `{"id":"a"}`, "--bindings", "bindings.yml", "--json")
	if r.code != 0 || r.stdout != `{"status":"SUCCEEDED","output":{"id":"a","score":9}}`+"\n" {
		t.Errorf("bound lambda: %d %q %s", r.code, r.stdout, r.stderr)
	}
}

func anyStrings(v any) []string {
	var out []string
	if list, ok := v.([]any); ok {
		for _, x := range list {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// examples/accounts-analysis as its README runs it, and its promise: two
// overlapping analyses never analyse the same account at the same time.
func TestWorkflowAccountsAnalysisExample(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	copyDir(t, "../examples/accounts-analysis", dir)
	want := `{"status":"SUCCEEDED","output":{"accounts":4,"results":[` +
		`{"failed":[],"items":4,"account":"acct-1"},{"failed":["broken-export"],"items":3,"account":"acct-2"},` +
		`{"failed":[],"items":1,"account":"acct-3"},{"failed":[],"items":5,"account":"acct-4"}]}}` + "\n"
	r := e.run(dir, "workflow", "run", "analysis.asl.json", "--bindings", "bindings.yml", "--json")
	if r.code != 0 || r.stdout != want {
		t.Fatalf("example: exit %d\n%s\nwant\n%s%s", r.code, r.stdout, want, r.stderr)
	}
	// The flaky item failed once and was retried; the broken one was caught.
	children := e.run(dir, "workflow", "list", "--state-machine", "account-analysis", "--json")
	var list struct {
		Executions []map[string]any `json:"executions"`
	}
	if err := json.Unmarshal([]byte(children.stdout), &list); err != nil || len(list.Executions) != 4 {
		t.Fatalf("child executions: %v %s", err, children.stdout)
	}
	for _, c := range list.Executions {
		name := fmt.Sprint(c["name"])
		acct := name[strings.Index(name, "acct-"):]
		if c["status"] != "SUCCEEDED" || c["concurrencyKey"] != "account-analysis:"+acct || c["parentExecutionArn"] == nil {
			t.Errorf("child %v", c)
		}
	}
	var acct1 string
	for _, c := range list.Executions {
		if strings.HasSuffix(fmt.Sprint(c["name"]), "-acct-1") {
			acct1 = fmt.Sprint(c["executionArn"])
		}
	}
	h := e.run(dir, "workflow", "history", acct1, "--json")
	if !strings.Contains(h.stdout, `Item.Busy`) {
		t.Errorf("acct-1's history shows no retried Item.Busy:\n%.2000s", h.stdout)
	}

	// Two analyses at once: each account's child executions run one at a time.
	log := filepath.Join(t.TempDir(), "analysis.log")
	var runs []*strings.Builder
	var waits []func() error
	for _, name := range []string{"nightly", "on-demand"} {
		cmd := e.command(dir, "workflow", "run", "analysis.asl.json", "--bindings", "bindings.yml", "--name", name, "--json")
		cmd.Env = append(cmd.Env, "ANALYSIS_LOG="+log, "ANALYSIS_SECONDS=0.1")
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		runs, waits = append(runs, out), append(waits, cmd.Wait)
	}
	for i, wait := range waits {
		if err := wait(); err != nil || runs[i].String() != want {
			t.Errorf("concurrent analysis %d: %v\n%s", i, err, runs[i].String())
		}
	}
	// Lines: "start|end ACCOUNT ITEM EXECUTION_ARN". Per account, the span
	// of one child execution's lines must not interleave with another's.
	type span struct{ first, last int }
	spans := map[string]map[string]*span{}
	for i, l := range strings.Split(strings.TrimSpace(readFile(t, log)), "\n") {
		f := strings.Fields(l)
		if len(f) != 4 {
			t.Fatalf("log line %q", l)
		}
		acct, arn := f[1], f[3]
		if spans[acct] == nil {
			spans[acct] = map[string]*span{}
		}
		if s := spans[acct][arn]; s == nil {
			spans[acct][arn] = &span{i, i}
		} else {
			s.last = i
		}
	}
	for acct, byARN := range spans {
		if len(byARN) != 2 {
			t.Errorf("%s analysed by %d executions, want 2", acct, len(byARN))
			continue
		}
		var s []*span
		for _, v := range byARN {
			s = append(s, v)
		}
		if s[0].first < s[1].last && s[1].first < s[0].last {
			t.Errorf("%s: two analyses ran at the same time (log lines %v and %v)", acct, *s[0], *s[1])
		}
	}
}

func TestWorkflowRedriveRerunsOnlyFailedIterations(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"batch.asl.json": `{"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
			"ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "arn:velocity:command",
				"Parameters": {"Command": "read i; echo $i >> ran.txt; if [ $i = 3 ] && [ ! -e fixed ]; then echo 'item 3 is broken' >&2; exit 1; fi; echo $i", "Input.$": "$"},
				"End": true}}}, "End": true}}}`,
	})
	r := e.run(dir, "workflow", "run", "batch.asl.json", "--input", `{"items": [1, 2, 3, 4, 5]}`, "--name", "b", "--json")
	if r.code != 1 || r.stdout != `{"status":"FAILED","error":"States.TaskFailed","cause":"item 3 is broken"}`+"\n" {
		t.Fatalf("first run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := e.run(dir, "workflow", "redrive", "b", "--json"); r.code != 1 || !strings.Contains(r.stdout, `"FAILED"`) {
		t.Fatalf("redrive while still broken: %d %s %s", r.code, r.stdout, r.stderr)
	}
	os.WriteFile(filepath.Join(dir, "fixed"), nil, 0o644)
	r = e.run(dir, "workflow", "redrive", "b", "--json")
	if r.code != 0 || r.stdout != `{"status":"SUCCEEDED","output":[1,2,3,4,5]}`+"\n" {
		t.Fatalf("redrive: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Items 1 and 2 succeeded in the first run and are never run again.
	if got := strings.Fields(readFile(t, filepath.Join(dir, "ran.txt"))); !slices.Equal(got, []string{"1", "2", "3", "3", "3", "4", "5"}) {
		t.Errorf("items ran in order %v", got)
	}
	m := describeJSON(t, e, dir, "b")
	if m["status"] != "SUCCEEDED" || m["redriveCount"] != float64(2) {
		t.Errorf("after redrives: %v", m)
	}
	if r := e.run(dir, "workflow", "redrive", "b"); r.code != 2 || !strings.Contains(r.stderr, "only FAILED, TIMED_OUT or ABORTED") {
		t.Errorf("redriving a succeeded execution: %d %s", r.code, r.stderr)
	}
}

// A parent killed while its children run: on restart (any workflow
// command resumes in the background) both carry on, the
// parent finds the children it started (by name) instead of starting new
// ones, and the result is the same as without the crash.
func TestWorkflowKilledParentFindsItsChildrenOnResume(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	copyDir(t, "../examples/accounts-analysis", dir)
	log := filepath.Join(t.TempDir(), "analysis.log")
	cmd := e.command(dir, "workflow", "run", "analysis.asl.json", "--bindings", "bindings.yml", "--name", "crashed", "--json")
	cmd.Env = append(cmd.Env, "ANALYSIS_LOG="+log, "ANALYSIS_SECONDS=0.3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(log)
		if strings.Count(string(b), "end ") >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the analysis never got going")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// No explicit resume: the describe calls of waitStatus, like any
	// workflow command, get the interrupted executions going again.
	m := waitStatus(t, e, dir, "crashed", 60*time.Second)
	if m["status"] != "SUCCEEDED" || !strings.Contains(fmt.Sprint(m["output"]), `"failed":["broken-export"]`) {
		t.Fatalf("after resume: %v", m)
	}
	children := e.run(dir, "workflow", "list", "--state-machine", "account-analysis")
	if n := strings.Count(children.stdout, "SUCCEEDED"); n != 4 || strings.Count(children.stdout, "\n") != 5 {
		t.Errorf("want exactly the 4 children, all succeeded:\n%s", children.stdout)
	}
}

// The worked example of docs/workflows.md runs and prints what the page
// shows.
func TestReadmeWorkflowExample(t *testing.T) {
	b, err := os.ReadFile("../docs/workflows.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "# Workflows\n")
	if !ok {
		t.Fatal("docs/workflows.md has no Workflows heading")
	}
	block := func(fence string) string {
		_, rest, ok := strings.Cut(section, fence+"\n")
		if !ok {
			t.Fatalf("no %s block in the Workflows section", fence)
		}
		body, _, _ := strings.Cut(rest, "```")
		return body
	}
	console := block("```console")
	var want string
	for _, l := range strings.Split(console, "\n") {
		if strings.HasPrefix(l, `{"status":`) {
			want = l + "\n"
			break
		}
	}
	dir := project(t, map[string]string{"orders.asl.yaml": block("```yaml"), "price.sh": block("```sh")})
	os.Chmod(filepath.Join(dir, "price.sh"), 0o755)
	e := newEnv(t)
	if r := e.run(dir, "workflow", "validate", "orders.asl.yaml"); r.code != 0 || !strings.Contains(console, r.stdout) {
		t.Errorf("validate: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r := e.run(dir, "workflow", "run", "orders.asl.yaml", "--json",
		"--input", `{"order": 7, "lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-9", "qty": 1}]}`)
	if r.code != 0 || r.stdout != want {
		t.Errorf("run: exit %d\n%s\ndocs/workflows.md shows\n%s%s", r.code, r.stdout, want, r.stderr)
	}
}

func TestWorkflowCtrlCAbortsTheForegroundExecution(t *testing.T) {
	e := newEnv(t)
	pids := t.TempDir()
	dir := project(t, map[string]string{
		"slow.asl.json": `{"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": "arn:velocity:command",
			"Parameters": {"Command": "echo $$ > \"$PIDS/sh.pid\"; sleep 60", "Env": {"PIDS": "` + pids + `"}}, "End": true}}}`,
	})
	cmd := e.command(dir, "workflow", "run", "slow.asl.json", "--name", "slow", "--json")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sh := atoi(t, waitFile(t, filepath.Join(pids, "sh.pid")))
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 130 {
		t.Fatalf("exit %d (%v), want 130; stdout %s", cmd.ProcessState.ExitCode(), err, out.String())
	}
	if out.String() != `{"status":"ABORTED","error":"Velocity.Interrupted","cause":"stopped by Ctrl-C"}`+"\n" {
		t.Errorf("stdout %q", out.String())
	}
	if err := syscall.Kill(sh, 0); err == nil {
		t.Errorf("the task's process %d outlived the abort", sh)
	}
	if m := describeJSON(t, e, dir, "slow"); m["status"] != "ABORTED" {
		t.Errorf("status %v", m["status"])
	}
}

// kill -9 of Velocity takes its task commands down too (the watchdog):
// a resumed execution's in-flight task must not race its older self.
func TestWorkflowKilledVelocityLeavesNoTaskBehind(t *testing.T) {
	e := newEnv(t)
	pids := t.TempDir()
	dir := project(t, map[string]string{
		"slow.asl.json": `{"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": "arn:velocity:command",
			"Parameters": {"Command": "sleep 60 & echo $! > \"$PIDS/bg.pid\"; wait", "Env": {"PIDS": "` + pids + `"}}, "End": true}}}`,
	})
	cmd := e.command(dir, "workflow", "run", "slow.asl.json", "--json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bg := atoi(t, waitFile(t, filepath.Join(pids, "bg.pid")))
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(bg, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(bg, syscall.SIGKILL)
			t.Fatalf("the task's process %d outlived velocity's kill -9", bg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWorkflowHeartbeatsKeepAWaitingTaskAlive(t *testing.T) {
	e := newEnv(t)
	tokens := t.TempDir()
	dir := project(t, map[string]string{
		"hb.asl.json": `{"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "arn:velocity:command.waitForTaskToken",
			"HeartbeatSeconds": 2,
			"Parameters": {"Command": "echo \"$VELOCITY_TASK_TOKEN\" > \"$DIR/$NAME\"", "Env": {"DIR": "` + tokens + `", "NAME.$": "$$.Execution.Name"}},
			"End": true}}}`,
	})
	for _, name := range []string{"silent", "beating"} {
		if r := e.run(dir, "workflow", "start", "hb.asl.json", "--name", name, "--detach"); r.code != 0 {
			t.Fatalf("start %s: %d %s", name, r.code, r.stderr)
		}
	}
	tok := waitFile(t, filepath.Join(tokens, "beating"))
	// Beat for twice the heartbeat interval, then finish.
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(400 * time.Millisecond) {
		if r := e.run(dir, "workflow", "task", "heartbeat", tok); r.code != 0 {
			t.Fatalf("heartbeat: %d %s", r.code, r.stderr)
		}
	}
	if r := e.run(dir, "workflow", "task", "success", tok, "--output", `"done"`); r.code != 0 {
		t.Fatalf("success: %d %s", r.code, r.stderr)
	}
	if m := waitStatus(t, e, dir, "beating", 30*time.Second); m["status"] != "SUCCEEDED" || m["output"] != `"done"` {
		t.Errorf("beating: %v", m)
	}
	// A missed heartbeat ends the execution as Step Functions reports it
	// (States.Timeout; Retry and Catch may name States.HeartbeatTimeout).
	if m := waitStatus(t, e, dir, "silent", 30*time.Second); m["status"] != "FAILED" ||
		(m["error"] != "States.Timeout" && m["error"] != "States.HeartbeatTimeout") {
		t.Errorf("silent: %v", m)
	} else if m["waitingTaskTokens"] != nil {
		t.Errorf("an ended execution still lists waiting tokens: %v", m["waitingTaskTokens"])
	}
	silent := waitFile(t, filepath.Join(tokens, "silent"))
	if r := e.run(dir, "workflow", "task", "success", silent); r.code != 1 || !strings.Contains(r.stderr, "TaskTimedOut") {
		t.Errorf("answering the timed-out task: %d %s", r.code, r.stderr)
	}
}

func TestWorkflowJSONDefinitionsAreStrictJSON(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"trailing.json": `{"StartAt":"A", "States":{"A":{"Type":"Pass","End":true,}}}`,
		"single.json":   `{'StartAt':'A','States':{'A':{'Type':'Pass','End':true}}}`,
		"junk.json":     `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}} x`,
		"yaml.asl.json": "StartAt: A\nStates:\n  A:\n    Type: Succeed\n",
		"ybad.asl.yaml": "StartAt: A\nStates:\n  A:\n    Type: Pass\n   End: true\n",
		"good.asl.yaml": "StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n",
	})
	for file, want := range map[string]string{
		"trailing.json": "trailing.json:1:57: invalid JSON: trailing comma before }",
		"single.json":   "single.json:1:2: invalid JSON: object keys must be in double quotes",
		"junk.json":     "junk.json:1:59: invalid JSON: unexpected character 'x' after the end of the top-level value",
		"yaml.asl.json": `yaml.asl.json:1:1: invalid JSON: unknown value "StartAt"`,
		"ybad.asl.yaml": "ybad.asl.yaml:5:4: /States/A: invalid YAML: bad indentation: line 5 is indented 3 spaces but line 4 above it 4",
	} {
		for _, cmd := range []string{"validate", "run"} {
			r := e.run(dir, "workflow", cmd, file)
			if r.code != 2 || !strings.HasPrefix(r.stderr, want) {
				t.Errorf("%s %s: exit %d, stderr %q; want exit 2 and a line starting %q", cmd, file, r.code, r.stderr, want)
			}
		}
	}
	if r := e.run(dir, "workflow", "run", "good.asl.yaml", "--json"); r.code != 0 {
		t.Errorf("good.asl.yaml: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
}

func TestWorkflowJSONOutputKeepsHTMLCharacters(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"h.asl.json": `{"StartAt":"A","States":{"A":{"Type":"Pass","Result":{"s":"<a&b>"},"End":true}}}`,
	})
	r := e.run(dir, "workflow", "run", "h.asl.json", "--input", `{"html":"<x>"}`, "--name", "html", "--json")
	if r.code != 0 || r.stdout != `{"status":"SUCCEEDED","output":{"s":"<a&b>"}}`+"\n" {
		t.Fatalf("run --json: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := e.run(dir, "workflow", "run", "h.asl.json"); r.code != 0 || !strings.Contains(r.stdout, `"s": "<a&b>"`) {
		t.Errorf("run: exit %d, stdout %q", r.code, r.stdout)
	}
	for _, args := range [][]string{{"describe", "html", "--json"}, {"list", "--json"}} {
		r := e.run(dir, append([]string{"workflow"}, args...)...)
		if r.code != 0 || strings.Contains(r.stdout, `\u00`) ||
			!strings.Contains(r.stdout, `"input":"{\"html\":\"<x>\"}"`) || !strings.Contains(r.stdout, `"output":"{\"s\":\"<a&b>\"}"`) {
			t.Errorf("%v: exit %d, stdout %s", args, r.code, r.stdout)
		}
	}
	if r := e.run(dir, "workflow", "describe", "html"); r.code != 0 || !strings.Contains(r.stdout, `{"html":"<x>"}`) {
		t.Errorf("describe: exit %d, stdout %s", r.code, r.stdout)
	}
}

func TestWorkflowFailureWithoutCauseLeavesCauseOut(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"f.asl.json":  `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"OnlyError"}}}`,
		"fc.asl.json": `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","Cause":"why"}}}`,
	})
	r := e.run(dir, "workflow", "run", "f.asl.json", "--name", "nocause", "--json")
	if r.code != 1 || r.stdout != `{"status":"FAILED","error":"OnlyError"}`+"\n" {
		t.Errorf("run --json: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	m := describeJSON(t, e, dir, "nocause")
	if _, has := m["cause"]; has || m["error"] != "OnlyError" {
		t.Errorf("describe --json: %v; want error and no cause", m)
	}
	r = e.run(dir, "workflow", "run", "fc.asl.json", "--json")
	if r.code != 1 || r.stdout != `{"status":"FAILED","error":"E","cause":"why"}`+"\n" {
		t.Errorf("run --json with a cause: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestWorkflowFlagErrorsNameTheirFlag(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"p.asl.json": `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
		"m.json":     `{"StateMachines":{"other":{"TestCases":{"T":{}}}},"MockedResponses":{}}`,
	})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"task", "success", "tok", "--output", "{bad"}, "velocity: --output is not JSON: "},
		{[]string{"task", "success", "tok", "--output", "@missing.json"}, "velocity: --output @missing.json: "},
		{[]string{"run", "p.asl.json", "--input", "{bad"}, "velocity: --input is not JSON: "},
		{[]string{"run", "p.asl.json", "--input", "@missing.json"}, "velocity: --input @missing.json: "},
		{[]string{"list", "--status", "bogus"}, `velocity: --status "bogus" is not a status`},
		{[]string{"list", "--limit", "0"}, "velocity: --limit must be at least 1"},
		{[]string{"run", "p.asl.json", "--mocks", "m.json", "--test-case", "T"}, `velocity: --mocks m.json has no state machine "p" under StateMachines (it has: other)`},
		{[]string{"run", "p.asl.json", "--test-case", "T"}, "velocity: --test-case needs --mocks"},
		{[]string{"run", "p.asl.json", "--concurrency-limit", "0"}, "velocity: --concurrency-limit must be at least 1"},
	} {
		r := e.run(dir, append([]string{"workflow"}, c.args...)...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

func TestWorkflowBase64DecodeOfNonBase64Fails(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"b.asl.json": `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"v.$":"States.Base64Decode('!!!')"},"End":true}}}`,
	})
	r := e.run(dir, "workflow", "run", "b.asl.json", "--json")
	want := `{"status":"FAILED","error":"States.Runtime","cause":"An error occurred while executing the state 'A' (entered at the event id #2). The function 'States.Base64Decode('!!!')' had the following error: Invalid arguments in States.Base64Decode"}` + "\n"
	if r.code != 1 || r.stdout != want {
		t.Errorf("exit %d, stdout %q, want %q\nstderr %s", r.code, r.stdout, want, r.stderr)
	}
}
