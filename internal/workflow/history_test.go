package workflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// The expected histories below are transcribed from GetExecutionHistory
// responses recorded against Step Functions (the parity snapshots of
// LocalStack's scenario tests: test_map_state, test_map_state_catch,
// test_map_state_retry, test_map_state_break_condition,
// test_parallel_state), written as "id previousEventId type" lines. The
// definitions are those scenarios' state machines.

// chain writes a history as "id previousEventId type" lines.
func chain(h []workflow.Event) string {
	var b strings.Builder
	for _, e := range h {
		fmt.Fprintf(&b, "%d %d %s\n", e.ID, e.PreviousEventID, e.Type)
	}
	return b.String()
}

// lines joins expected "id prev type" lines as chain writes them.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// runHistory runs def on input with a fake clock (so retries take no real
// time) and returns its history.
func runHistory(t *testing.T, def, input string, inv workflow.Invoker) ([]workflow.Event, workflow.Result) {
	t.Helper()
	var h []workflow.Event
	var res workflow.Result
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart)
		j := workflow.NewMemoryJournal()
		in := &workflow.Interpreter{Journal: j, Invoker: inv, Clock: clock}
		var err error
		res, err = in.Run(context.Background(), workflow.Execution{ID: "h", StateMachineName: "m", Definition: load(t, def), Input: decode(t, input)})
		if err != nil {
			t.Fatal(err)
		}
		h = j.History("h")
	})
	return h, res
}

func TestFirstStateLinksToZero(t *testing.T) {
	h, _ := runHistory(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`, `{}`, nil)
	want := lines(
		"1 0 ExecutionStarted",
		"2 0 PassStateEntered",
		"3 2 PassStateExited",
		"4 3 ExecutionSucceeded")
	if got := chain(h); got != want {
		t.Errorf("history:\n%s\nwant (as Step Functions records it):\n%s", got, want)
	}
}

const mapScenario = `{"StartAt": "StartState", "States": {
  "StartState": {"Type": "Pass", "Result": [1, "Hello", {}, null, 3.3, 3, 4, 5], "ResultPath": "$.arr", "Next": "MapState"},
  "MapState": {"Type": "Map", "ResultPath": null, "InputPath": "$.arr", "MaxConcurrency": 1,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "HandleItem",
      "States": {"HandleItem": {"Type": "Pass", "End": true}}},
    "Next": "Final"},
  "Final": {"Type": "Pass", "End": true}}}`

func TestMapHistoryLinksAsRecorded(t *testing.T) {
	h, _ := runHistory(t, mapScenario, `{}`, nil)
	ls := []string{
		"1 0 ExecutionStarted",
		"2 0 PassStateEntered",
		"3 2 PassStateExited",
		"4 3 MapStateEntered",
		"5 4 MapStateStarted",
		"6 5 MapIterationStarted",
		"7 6 PassStateEntered",
		"8 7 PassStateExited",
		"9 8 MapIterationSucceeded",
	}
	for i := 1; i < 8; i++ {
		id := 6 + 4*i
		ls = append(ls,
			fmt.Sprintf("%d %d MapIterationStarted", id, id-2),
			fmt.Sprintf("%d %d PassStateEntered", id+1, id),
			fmt.Sprintf("%d %d PassStateExited", id+2, id+1),
			fmt.Sprintf("%d %d MapIterationSucceeded", id+3, id+2))
	}
	ls = append(ls,
		"38 37 MapStateSucceeded",
		"39 37 MapStateExited",
		"40 39 PassStateEntered",
		"41 40 PassStateExited",
		"42 41 ExecutionSucceeded")
	if got, want := chain(h), lines(ls...); got != want {
		t.Errorf("history:\n%s\nwant (test_map_state):\n%s", got, want)
	}
}

func TestMapBreakHistoryLinksAsRecorded(t *testing.T) {
	def := `{"StartAt": "StartState", "States": {
	  "StartState": {"Type": "Pass", "Result": [1, "Hello", {}, 3.3, 3, 4, 5], "ResultPath": "$.arr", "Next": "MapState"},
	  "MapState": {"Type": "Map", "ResultPath": null, "InputPath": "$.arr", "MaxConcurrency": 1,
	    "ItemProcessor": {"StartAt": "Equals3", "States": {
	      "Equals3": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 3, "Next": "Break"}], "Default": "Pass"},
	      "Pass": {"Type": "Pass", "End": true},
	      "Break": {"Type": "Fail", "Error": "SomeFailure", "Cause": "This state machines raises a 'SomeFailure' failure."}}},
	    "Next": "Final"},
	  "Final": {"Type": "Pass", "End": true}}}`
	h, res := runHistory(t, def, `{}`, nil)
	ls := []string{
		"1 0 ExecutionStarted",
		"2 0 PassStateEntered",
		"3 2 PassStateExited",
		"4 3 MapStateEntered",
		"5 4 MapStateStarted",
	}
	for i := 0; i < 4; i++ {
		id := 6 + 6*i
		prev := id - 2
		if i == 0 {
			prev = 5
		}
		ls = append(ls,
			fmt.Sprintf("%d %d MapIterationStarted", id, prev),
			fmt.Sprintf("%d %d ChoiceStateEntered", id+1, id),
			fmt.Sprintf("%d %d ChoiceStateExited", id+2, id+1),
			fmt.Sprintf("%d %d PassStateEntered", id+3, id+2),
			fmt.Sprintf("%d %d PassStateExited", id+4, id+3),
			fmt.Sprintf("%d %d MapIterationSucceeded", id+5, id+4))
	}
	ls = append(ls,
		"30 28 MapIterationStarted",
		"31 30 ChoiceStateEntered",
		"32 31 ChoiceStateExited",
		"33 32 FailStateEntered",
		"34 33 MapIterationFailed",
		"35 33 MapStateFailed",
		"36 35 ExecutionFailed")
	if got, want := chain(h), lines(ls...); got != want {
		t.Errorf("history:\n%s\nwant (test_map_state_break_condition):\n%s", got, want)
	}
	if res.Error != "SomeFailure" {
		t.Errorf("error %q, want SomeFailure", res.Error)
	}
}

func TestMapCatchHistoryLinksAsRecorded(t *testing.T) {
	def := `{"StartAt": "StartState", "States": {
	  "StartState": {"Type": "Pass", "Result": [1], "ResultPath": "$.arr", "Next": "MapState"},
	  "MapState": {"Type": "Map", "InputPath": "$.arr", "MaxConcurrency": 1,
	    "ItemProcessor": {"StartAt": "HandleItemFail", "States": {
	      "HandleItemFail": {"Type": "Fail", "Error": "HandleItemFailError", "Cause": "HandleItemFailCause"}}},
	    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "FinalCaught"}],
	    "Next": "Final"},
	  "FinalCaught": {"Type": "Pass", "End": true},
	  "Final": {"Type": "Pass", "End": true}}}`
	h, _ := runHistory(t, def, `{}`, nil)
	want := lines(
		"1 0 ExecutionStarted",
		"2 0 PassStateEntered",
		"3 2 PassStateExited",
		"4 3 MapStateEntered",
		"5 4 MapStateStarted",
		"6 5 MapIterationStarted",
		"7 6 FailStateEntered",
		"8 7 MapIterationFailed",
		"9 7 MapStateFailed",
		"10 9 MapStateExited",
		"11 10 PassStateEntered",
		"12 11 PassStateExited",
		"13 12 ExecutionSucceeded")
	if got := chain(h); got != want {
		t.Errorf("history:\n%s\nwant (test_map_state_catch):\n%s", got, want)
	}
}

func TestParallelHistoryLinksAsRecorded(t *testing.T) {
	def := `{"StartAt": "LoadInput", "States": {
	  "LoadInput": {"Type": "Pass", "Result": [1, 2, 3, 4], "Next": "ParallelState"},
	  "ParallelState": {"Type": "Parallel", "End": true, "Branches": [
	    {"StartAt": "Branch1", "States": {"Branch1": {"Type": "Pass", "End": true}}},
	    {"StartAt": "Branch21", "States": {"Branch21": {"Type": "Pass", "Next": "Branch22"}, "Branch22": {"Type": "Pass", "End": true}}},
	    {"StartAt": "Branch31", "States": {"Branch31": {"Type": "Pass", "Next": "Branch32"},
	      "Branch32": {"Type": "Pass", "Next": "Branch33"}, "Branch33": {"Type": "Pass", "End": true}}}]}}}`
	h, _ := runHistory(t, def, `{}`, nil)
	// The recording masks the IDs of the branches' events, which run
	// concurrently; what it fixes is everything around them.
	var outer []workflow.Event
	for _, e := range h {
		if e.ID < 6 || e.ID > 17 {
			outer = append(outer, e)
		} else if e.PreviousEventID < 5 {
			t.Errorf("branch event %d %s links to %d, before ParallelStateStarted", e.ID, e.Type, e.PreviousEventID)
		}
	}
	want := lines(
		"1 0 ExecutionStarted",
		"2 0 PassStateEntered",
		"3 2 PassStateExited",
		"4 3 ParallelStateEntered",
		"5 4 ParallelStateStarted",
		"18 17 ParallelStateSucceeded",
		"19 17 ParallelStateExited",
		"20 19 ExecutionSucceeded")
	if got := chain(outer); got != want {
		t.Errorf("history:\n%s\nwant (test_parallel_state):\n%s", chain(h), want)
	}
}

const mapRetryScenario = `{"StartAt": "StartState", "States": {
  "StartState": {"Type": "Pass", "Result": [1], "ResultPath": "$.arr", "Next": "MapState"},
  "MapState": {"Type": "Map", "ResultPath": null, "InputPath": "$.arr", "MaxConcurrency": 1,
    "ItemProcessor": {"StartAt": "HandleItemFail", "States": {
      "HandleItemFail": {"Type": "Fail", "Error": "HandleItemFailError", "Cause": "HandleItemFailCause"}}},
    "Retry": [{"ErrorEquals": ["HandleItemFailError"], "MaxAttempts": 2}],
    "Next": "Final"},
  "Final": {"Type": "Pass", "End": true}}}`

// mapRetryRecorded is test_map_state_retry's history: no MapStateFailed
// between attempts, each retry's MapStateStarted linked to the failed
// iteration's last state event.
var mapRetryRecorded = lines(
	"1 0 ExecutionStarted",
	"2 0 PassStateEntered",
	"3 2 PassStateExited",
	"4 3 MapStateEntered",
	"5 4 MapStateStarted",
	"6 5 MapIterationStarted",
	"7 6 FailStateEntered",
	"8 7 MapIterationFailed",
	"9 7 MapStateStarted",
	"10 9 MapIterationStarted",
	"11 10 FailStateEntered",
	"12 11 MapIterationFailed",
	"13 11 MapStateStarted",
	"14 13 MapIterationStarted",
	"15 14 FailStateEntered",
	"16 15 MapIterationFailed",
	"17 15 MapStateFailed",
	"18 17 ExecutionFailed")

func TestMapRetryHistoryAsRecorded(t *testing.T) {
	h, res := runHistory(t, mapRetryScenario, `{}`, nil)
	if got := chain(h); got != mapRetryRecorded {
		t.Errorf("history:\n%s\nwant (test_map_state_retry):\n%s", got, mapRetryRecorded)
	}
	// The retries wait 1 s and 2 s (IntervalSeconds 1, BackoffRate 2).
	if d := res.StopTime.Sub(res.StartTime); d != 3*time.Second {
		t.Errorf("the execution took %s, want 3s", d)
	}
	if res.Status != workflow.StatusFailed || res.Error != "HandleItemFailError" {
		t.Errorf("result %+v", res)
	}
}

func TestParallelRetryRecordsOneFailure(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","Cause":"C"}}}],
	  "Retry":[{"ErrorEquals":["E"],"IntervalSeconds":1,"MaxAttempts":1}],"End":true}}}`
	h, _ := runHistory(t, def, `{}`, nil)
	want := lines(
		"1 0 ExecutionStarted",
		"2 0 ParallelStateEntered",
		"3 2 ParallelStateStarted",
		"4 3 FailStateEntered",
		"5 4 ParallelStateStarted",
		"6 5 FailStateEntered",
		"7 6 ParallelStateFailed",
		"8 7 ExecutionFailed")
	if got := chain(h); got != want {
		t.Errorf("history:\n%s\nwant:\n%s", got, want)
	}
}

// TestResumedHistoryLinksAsAnUninterruptedOne cuts the recorded
// scenarios after every event and resumes them: the resumed history is
// the uninterrupted one, IDs, links and types, and a retry waits what it
// would have.
func TestResumedHistoryLinksAsAnUninterruptedOne(t *testing.T) {
	for name, def := range map[string]string{"map": mapScenario, "map retry": mapRetryScenario} {
		t.Run(name, func(t *testing.T) {
			full, want := runHistory(t, def, `{}`, nil)
			sm := load(t, def)
			for cut := 1; cut < len(full); cut++ {
				prefix := append([]workflow.Event(nil), full[:cut]...)
				synctest.Test(t, func(t *testing.T) {
					// The clock stands where the cut event was recorded.
					clock := workflow.NewFakeClock(prefix[cut-1].Timestamp)
					j := seed(t, "h", prefix)
					in := &workflow.Interpreter{Journal: j, Clock: clock}
					res, err := in.Run(context.Background(), workflow.Execution{ID: "h", StateMachineName: "m", Definition: sm, History: prefix})
					if err != nil {
						t.Fatalf("cut %d: %v", cut, err)
					}
					if got := chain(j.History("h")); got != chain(full) {
						t.Errorf("cut %d: history:\n%s\nwant:\n%s", cut, got, chain(full))
					}
					if res.StopTime != want.StopTime {
						t.Errorf("cut %d: ended at %s, want %s", cut, res.StopTime, want.StopTime)
					}
				})
			}
		})
	}
}

// submittingInvoker is a .sync resource: it reports the job it submitted,
// then returns the job's result.
type submittingInvoker struct{ calls int }

func (inv *submittingInvoker) Invoke(_ context.Context, req workflow.TaskRequest) (any, error) {
	inv.calls++
	req.Submitted(map[string]any{"JobRunId": "jr_1"})
	req.Submitted(map[string]any{"JobRunId": "ignored"})
	return map[string]any{"JobRunState": "SUCCEEDED"}, nil
}

// TestSyncTaskRecordsTaskSubmitted follows an AWS history of a
// glue:startJobRun.sync task: TaskStarted, then TaskSubmitted with the
// answer of the call that submitted the job, then TaskSucceeded.
func TestSyncTaskRecordsTaskSubmitted(t *testing.T) {
	def := `{"StartAt":"Etl","States":{"Etl":{"Type":"Task","Resource":"arn:aws:states:::glue:startJobRun.sync","Parameters":{"JobName":"etl"},"End":true}}}`
	h, res := runHistory(t, def, `{}`, &submittingInvoker{})
	want := lines(
		"1 0 ExecutionStarted",
		"2 0 TaskStateEntered",
		"3 2 TaskScheduled",
		"4 3 TaskStarted",
		"5 4 TaskSubmitted",
		"6 5 TaskSucceeded",
		"7 6 TaskStateExited",
		"8 7 ExecutionSucceeded")
	if got := chain(h); got != want {
		t.Fatalf("history:\n%s\nwant:\n%s", got, want)
	}
	b, err := h[4].MarshalAWS()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"taskSubmittedEventDetails":{"resourceType":"glue","resource":"startJobRun.sync","output":"{\"JobRunId\":\"jr_1\"}","outputDetails":{"truncated":false}}`) {
		t.Errorf("TaskSubmitted: %s", b)
	}
	if res.Status != workflow.StatusSucceeded {
		t.Errorf("result %+v", res)
	}

	// Resumed after the submission, the in-flight task runs again and
	// its submission is not recorded twice.
	prefix := append([]workflow.Event(nil), h[:5]...)
	synctest.Test(t, func(t *testing.T) {
		j := seed(t, "h", prefix)
		inv := &submittingInvoker{}
		in := &workflow.Interpreter{Journal: j, Invoker: inv, Clock: workflow.NewFakeClock(testStart)}
		if _, err := in.Run(context.Background(), workflow.Execution{ID: "h", StateMachineName: "m", Definition: load(t, def), History: prefix}); err != nil {
			t.Fatal(err)
		}
		if got := chain(j.History("h")); got != want || inv.calls != 1 {
			t.Errorf("resumed (%d invocations):\n%s\nwant:\n%s", inv.calls, got, want)
		}
	})
}

// TestExecutionRoleArn: ExecutionStarted names a role, as every Step
// Functions history does, and $$.Execution.RoleArn is that role.
func TestExecutionRoleArn(t *testing.T) {
	def := `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"role.$":"$$.Execution.RoleArn"},"End":true}}}`
	h, res := runHistory(t, def, `{}`, nil)
	const role = "arn:aws:iam::123456789012:role/velocity"
	b, err := h[0].MarshalAWS()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"roleArn":"`+role+`"`) {
		t.Errorf("ExecutionStarted: %s", b)
	}
	if member(res.Output, "role") != role {
		t.Errorf("$$.Execution.RoleArn = %v, want %s", res.Output, role)
	}
}

// TestAbortBeforeStart: an execution stopped before it ran (queued behind
// a concurrency key) is run with its context already aborted. Like every
// Step Functions history its history starts with ExecutionStarted, and
// it ends ExecutionAborted with the stop's error and cause; no state runs.
func TestAbortBeforeStart(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}}`
	j := workflow.NewMemoryJournal()
	inv := &submittingInvoker{}
	in := &workflow.Interpreter{Journal: j, Invoker: inv, Clock: workflow.NewFakeClock(testStart)}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&workflow.Abort{Name: "Manual", Cause: "not needed"})
	res, err := in.Run(ctx, workflow.Execution{ID: "a", StateMachineName: "m", Definition: load(t, def)})
	if err != nil {
		t.Fatal(err)
	}
	h := j.History("a")
	if got, want := chain(h), lines("1 0 ExecutionStarted", "2 0 ExecutionAborted"); got != want {
		t.Errorf("history:\n%s\nwant:\n%s", got, want)
	}
	if b, _ := h[len(h)-1].MarshalAWS(); !strings.Contains(string(b), `"executionAbortedEventDetails":{"error":"Manual","cause":"not needed"}`) {
		t.Errorf("ExecutionAborted: %s", b)
	}
	if res.Status != workflow.StatusAborted || inv.calls != 0 {
		t.Errorf("result %+v, %d task invocations", res, inv.calls)
	}
}

// brokenItemInvoker fails for item Broken while Broken is set.
type brokenItemInvoker struct{ broken int64 }

func (inv *brokenItemInvoker) Invoke(_ context.Context, req workflow.TaskRequest) (any, error) {
	if n, _ := req.Input.(json.Number).Int64(); n == inv.broken {
		return nil, &asl.Failure{Name: "Item.Broken", Cause: "item " + req.Input.(json.Number).String()}
	}
	return req.Input, nil
}

// TestRedriveHistory: a redrive records ExecutionRedriven after the last
// event, then the failed Map anew (MapStateEntered, MapStateStarted) with
// a MapIterationStarted for each iteration it runs again; the iteration
// that had succeeded is not in the new part.
func TestRedriveHistory(t *testing.T) {
	def := `{"StartAt": "P", "States": {
	  "P": {"Type": "Pass", "Next": "M"},
	  "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": true,
	    "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}}}}`
	sm := load(t, def)
	synctest.Test(t, func(t *testing.T) {
		j := workflow.NewMemoryJournal()
		inv := &brokenItemInvoker{broken: 2}
		in := &workflow.Interpreter{Journal: j, Invoker: inv, Clock: workflow.NewFakeClock(testStart)}
		ex := workflow.Execution{ID: "r", StateMachineName: "m", Definition: sm, Input: decode(t, `{"items": [1, 2, 3]}`)}
		if res, err := in.Run(context.Background(), ex); err != nil || res.Status != workflow.StatusFailed {
			t.Fatalf("first run: %v %+v", err, res)
		}
		inv.broken = 0
		ex.History, ex.Redrive = j.History("r"), true
		res, err := in.Run(context.Background(), ex)
		if err != nil || res.Status != workflow.StatusSucceeded {
			t.Fatalf("redrive: %v %+v", err, res)
		}
		want := lines(
			"1 0 ExecutionStarted",
			"2 0 PassStateEntered",
			"3 2 PassStateExited",
			"4 3 MapStateEntered",
			"5 4 MapStateStarted",
			"6 5 MapIterationStarted",
			"7 6 TaskStateEntered",
			"8 7 TaskScheduled",
			"9 8 TaskStarted",
			"10 9 TaskSucceeded",
			"11 10 TaskStateExited",
			"12 11 MapIterationSucceeded",
			"13 11 MapIterationStarted",
			"14 13 TaskStateEntered",
			"15 14 TaskScheduled",
			"16 15 TaskStarted",
			"17 16 TaskFailed",
			"18 17 MapIterationFailed",
			"19 17 MapStateFailed",
			"20 19 ExecutionFailed",
			"21 20 ExecutionRedriven",
			"22 21 MapStateEntered",
			"23 22 MapStateStarted",
			"24 23 MapIterationStarted",
			"25 24 TaskStateEntered",
			"26 25 TaskScheduled",
			"27 26 TaskStarted",
			"28 27 TaskSucceeded",
			"29 28 TaskStateExited",
			"30 29 MapIterationSucceeded",
			"31 29 MapIterationStarted",
			"32 31 TaskStateEntered",
			"33 32 TaskScheduled",
			"34 33 TaskStarted",
			"35 34 TaskSucceeded",
			"36 35 TaskStateExited",
			"37 36 MapIterationSucceeded",
			"38 37 MapStateSucceeded",
			"39 37 MapStateExited",
			"40 39 ExecutionSucceeded")
		full := j.History("r")
		if got := chain(full); got != want {
			t.Fatalf("history:\n%s\nwant:\n%s", got, want)
		}
		if fmt.Sprint(res.Output) != "[1 2 3]" {
			t.Errorf("output %v", res.Output)
		}
		// Cut anywhere in the redrive and resumed, the history is the same.
		for cut := 21; cut < len(full); cut++ {
			prefix := append([]workflow.Event(nil), full[:cut]...)
			j2 := seed(t, "r", prefix)
			in2 := &workflow.Interpreter{Journal: j2, Invoker: inv, Clock: workflow.NewFakeClock(testStart)}
			res2, err := in2.Run(context.Background(), workflow.Execution{ID: "r", StateMachineName: "m", Definition: sm, History: prefix})
			if err != nil || res2.Status != workflow.StatusSucceeded {
				t.Fatalf("cut %d: %v %+v", cut, err, res2)
			}
			if got := chain(j2.History("r")); got != want {
				t.Errorf("cut %d: history:\n%s\nwant:\n%s", cut, got, want)
			}
		}
	})
}

// TestRedriveIterationWithFinishedStates: an iteration that failed after
// finishing a state records a new MapIterationStarted when redriven, goes
// through the finished state without recording it again, and resumes to
// the same history from any cut.
func TestRedriveIterationWithFinishedStates(t *testing.T) {
	def := `{"StartAt": "M", "States": {
	  "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": true,
	    "ItemProcessor": {"StartAt": "A", "States": {
	      "A": {"Type": "Pass", "Next": "T"},
	      "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}}}}`
	sm := load(t, def)
	synctest.Test(t, func(t *testing.T) {
		j := workflow.NewMemoryJournal()
		inv := &brokenItemInvoker{broken: 1}
		in := &workflow.Interpreter{Journal: j, Invoker: inv, Clock: workflow.NewFakeClock(testStart)}
		ex := workflow.Execution{ID: "r", StateMachineName: "m", Definition: sm, Input: decode(t, `{"items": [1]}`)}
		if _, err := in.Run(context.Background(), ex); err != nil {
			t.Fatal(err)
		}
		redriveAt := len(j.History("r")) + 1
		inv.broken = 0
		ex.History, ex.Redrive = j.History("r"), true
		if res, err := in.Run(context.Background(), ex); err != nil || res.Status != workflow.StatusSucceeded {
			t.Fatalf("redrive: %v %+v", err, res)
		}
		full := j.History("r")
		got := chain(full[redriveAt-1:])
		want := lines(
			fmt.Sprintf("%d %d ExecutionRedriven", redriveAt, redriveAt-1),
			fmt.Sprintf("%d %d MapStateEntered", redriveAt+1, redriveAt),
			fmt.Sprintf("%d %d MapStateStarted", redriveAt+2, redriveAt+1),
			fmt.Sprintf("%d %d MapIterationStarted", redriveAt+3, redriveAt+2),
			fmt.Sprintf("%d %d TaskStateEntered", redriveAt+4, redriveAt+3),
			fmt.Sprintf("%d %d TaskScheduled", redriveAt+5, redriveAt+4),
			fmt.Sprintf("%d %d TaskStarted", redriveAt+6, redriveAt+5),
			fmt.Sprintf("%d %d TaskSucceeded", redriveAt+7, redriveAt+6),
			fmt.Sprintf("%d %d TaskStateExited", redriveAt+8, redriveAt+7),
			fmt.Sprintf("%d %d MapIterationSucceeded", redriveAt+9, redriveAt+8),
			fmt.Sprintf("%d %d MapStateSucceeded", redriveAt+10, redriveAt+9),
			fmt.Sprintf("%d %d MapStateExited", redriveAt+11, redriveAt+9),
			fmt.Sprintf("%d %d ExecutionSucceeded", redriveAt+12, redriveAt+11))
		if got != want {
			t.Fatalf("after the redrive:\n%s\nwant:\n%s", got, want)
		}
		for cut := redriveAt; cut < len(full); cut++ {
			prefix := append([]workflow.Event(nil), full[:cut]...)
			j2 := seed(t, "r", prefix)
			in2 := &workflow.Interpreter{Journal: j2, Invoker: inv, Clock: workflow.NewFakeClock(testStart)}
			if _, err := in2.Run(context.Background(), workflow.Execution{ID: "r", StateMachineName: "m", Definition: sm, History: prefix}); err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
			if got := chain(j2.History("r")); got != chain(full) {
				t.Errorf("cut %d: history:\n%s\nwant:\n%s", cut, got, chain(full))
			}
		}
	})
}

// TestEventJSONKeepsHTMLCharacters: inputs, outputs and parameters in
// events keep <, > and & as Step Functions writes them.
func TestEventJSONKeepsHTMLCharacters(t *testing.T) {
	def := `{"StartAt":"A","States":{"A":{"Type":"Pass","Result":{"s":"<a&b>"},"End":true}}}`
	h, _ := runHistory(t, def, `{}`, nil)
	b, err := workflow.MarshalHistory(h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"executionSucceededEventDetails":{"output":"{\"s\":\"<a&b>\"}"`) || strings.Contains(string(b), `\u003c`) {
		t.Errorf("history: %s", b)
	}
}

// bigInvoker returns a result of Size bytes of JSON (a string).
type bigInvoker struct{ size int }

func (inv bigInvoker) Invoke(context.Context, workflow.TaskRequest) (any, error) {
	return strings.Repeat("x", inv.size-2), nil
}

// TestTaskResultOverDataLimit follows test_service_task_lambada_catch_state_all_data_limit_exceeded_on_large_utf8_response
// and its Lambda ARN twin: a result over 256 KiB fails the task with
// States.DataLimitExceeded, which a Catch on States.ALL takes.
func TestTaskResultOverDataLimit(t *testing.T) {
	for _, c := range []struct{ resource, failed, name string }{
		{"arn:aws:states:::lambda:invoke", "TaskFailed", "lambda"},
		{"arn:aws:lambda:us-east-1:123456789012:function:big", "LambdaFunctionFailed", "arn:aws:lambda:us-east-1:123456789012:function:big"},
	} {
		def := `{"StartAt": "InvokeLambda", "States": {
		  "InvokeLambda": {"Type": "Task", "Resource": "` + c.resource + `", "Next": "ProcessResult",
		    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "HandleGeneralError"}]},
		  "ProcessResult": {"Type": "Pass", "End": true},
		  "HandleGeneralError": {"Type": "Pass", "End": true}}}`
		h, res := runHistory(t, def, `{}`, bigInvoker{size: 262145})
		scheduled, started := "TaskScheduled", "TaskStarted"
		if c.failed == "LambdaFunctionFailed" {
			scheduled, started = "LambdaFunctionScheduled", "LambdaFunctionStarted"
		}
		want := lines(
			"1 0 ExecutionStarted",
			"2 0 TaskStateEntered",
			"3 2 "+scheduled,
			"4 3 "+started,
			"5 4 "+c.failed,
			"6 5 TaskStateExited",
			"7 6 PassStateEntered",
			"8 7 PassStateExited",
			"9 8 ExecutionSucceeded")
		if got := chain(h); got != want {
			t.Errorf("%s: history:\n%s\nwant:\n%s", c.resource, got, want)
		}
		cause := "The state/task '" + c.name + "' returned a result with a size exceeding the maximum number of bytes service limit."
		if member(res.Output, "Error") != "States.DataLimitExceeded" || member(res.Output, "Cause") != cause {
			t.Errorf("%s: output %v", c.resource, res.Output)
		}
	}
	// 262,144 bytes is within the limit.
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}}`
	if _, res := runHistory(t, def, `{}`, bigInvoker{size: 262144}); res.Status != workflow.StatusSucceeded {
		t.Errorf("a result of 262144 bytes: %+v", res.Status)
	}
}

func TestStateOutputOverDataLimit(t *testing.T) {
	def := `{"StartAt":"Twice","States":{"Twice":{"Type":"Pass","Parameters":{"a.$":"$.s","b.$":"$.s"},"End":true}}}`
	input := `{"s":"` + strings.Repeat("y", 150000) + `"}`
	_, res := runHistory(t, def, input, nil)
	if res.Status != workflow.StatusFailed || res.Error != "States.DataLimitExceeded" ||
		res.Cause != "The state/task 'Twice' returned a result with a size exceeding the maximum number of bytes service limit." {
		t.Errorf("result %s %s %s", res.Status, res.Error, res.Cause)
	}
}

func TestExecutionInputOverDataLimit(t *testing.T) {
	j := workflow.NewMemoryJournal()
	in := &workflow.Interpreter{Journal: j}
	_, err := in.Run(context.Background(), workflow.Execution{ID: "big", Definition: load(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`),
		Input: strings.Repeat("z", 270000)})
	if err == nil || !strings.Contains(err.Error(), "256 KiB") {
		t.Errorf("error %v", err)
	}
	if h := j.History("big"); len(h) != 0 {
		t.Errorf("%d events recorded for a refused execution", len(h))
	}
}

// The variables a state assigns are in its …StateExited event as
// GetExecutionHistory shows them (assignedVariables: each value as JSON
// text, with assignedVariablesDetails), and only there: a state without
// Assign has neither member.
func TestExitRecordsAssignedVariables(t *testing.T) {
	h, _ := runHistory(t, `{"StartAt":"A","States":{
	  "A":{"Type":"Pass","Assign":{"x":42,"y.$":"$.in"},"Next":"B"},
	  "B":{"Type":"Pass","End":true}}}`, `{"in":{"a":"b"}}`, nil)
	var exits []string
	for _, e := range h {
		if e.Type == workflow.PassStateExited {
			b, err := e.MarshalAWS()
			if err != nil {
				t.Fatal(err)
			}
			exits = append(exits, string(b))
		}
	}
	if len(exits) != 2 {
		t.Fatalf("exits: %v", exits)
	}
	want := `"stateExitedEventDetails":{"name":"A","output":"{\"in\":{\"a\":\"b\"}}","outputDetails":{"truncated":false},"assignedVariables":{"x":"42","y":"{\"a\":\"b\"}"},"assignedVariablesDetails":{"truncated":false}}`
	if !strings.Contains(exits[0], want) {
		t.Errorf("A's exit:\n%s\nwant it to hold:\n%s", exits[0], want)
	}
	if strings.Contains(exits[1], "assignedVariables") {
		t.Errorf("B assigns nothing, yet its exit is %s", exits[1])
	}
}

// Step Functions' quotas on variables: 256 KiB for one variable, 256 KiB
// for what one Assign sets; going over fails the state with
// States.DataLimitExceeded naming the limit and its value.
func TestAssignOverDataLimit(t *testing.T) {
	input := `{"s":"` + strings.Repeat("y", 150000) + `"}`
	for name, c := range map[string]struct{ assign, cause string }{
		"one variable": {`{"big.$":"States.Array($.s, $.s)"}`,
			"The state 'Set' assigns 300007 bytes to the variable 'big', more than the 262144 bytes (MaxVariableBytes, 256 KiB) a variable may hold"},
		"one Assign": {`{"a.$":"$.s","b.$":"$.s"}`,
			"The Assign of state 'Set' sets 300004 bytes of variables, more than the 262144 bytes (MaxAssignBytes, 256 KiB) one Assign may set"},
	} {
		t.Run(name, func(t *testing.T) {
			def := `{"StartAt":"Set","States":{"Set":{"Type":"Pass","Assign":` + c.assign + `,"End":true}}}`
			_, res := runHistory(t, def, input, nil)
			if res.Status != workflow.StatusFailed || res.Error != "States.DataLimitExceeded" || res.Cause != c.cause {
				t.Errorf("result %s %s %q", res.Status, res.Error, res.Cause)
			}
		})
	}
}

// All the variables an execution holds are bounded by MaxVariablesBytes
// (10 MiB): the 70th assignment of 150 kB fails the state naming it.
func TestVariablesOverExecutionLimit(t *testing.T) {
	var states []string
	for i := range 80 {
		next := fmt.Sprintf(`"Next":"S%d"`, i+1)
		if i == 79 {
			next = `"End":true`
		}
		states = append(states, fmt.Sprintf(`"S%d":{"Type":"Pass","Assign":{"v%d.$":"$.s"},%s}`, i, i, next))
	}
	def := `{"StartAt":"S0","States":{` + strings.Join(states, ",") + `}}`
	_, res := runHistory(t, def, `{"s":"`+strings.Repeat("z", 150000)+`"}`, nil)
	want := "The Assign of state 'S69' would make the variables it can read 10500140 bytes, more than the 10485760 bytes (MaxVariablesBytes, 10 MiB) an execution may hold"
	if res.Status != workflow.StatusFailed || res.Error != "States.DataLimitExceeded" || res.Cause != want {
		t.Errorf("result %s %s %q", res.Status, res.Error, res.Cause)
	}
}
