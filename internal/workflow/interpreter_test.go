package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

var testStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func load(t testing.TB, def string) *asl.StateMachine {
	t.Helper()
	sm, err := asl.Load("test.json", []byte(def))
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

func decode(t testing.TB, s string) any {
	t.Helper()
	v, err := payload.Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// itemInvoker is a task resource that records which items it was called
// for. Input is {"i": N}; attempt 0 of items in failFirst fails with
// Item.Flaky; items in broken always fail with Item.Broken.
type itemInvoker struct {
	clock     workflow.Clock
	sleep     time.Duration
	failFirst map[int]bool
	broken    map[int]bool

	mu    sync.Mutex
	calls map[int]int
	// attempts counts invocations by task and attempt: 100*task+attempt.
	attempts map[int]int
	inFlight int
	maxIn    int
}

func (inv *itemInvoker) Invoke(ctx context.Context, req workflow.TaskRequest) (any, error) {
	n, _ := member(req.Input, "i").(json.Number).Int64()
	i := int(n)
	if a, ok := member(req.Input, "m").(json.Number); ok {
		// The attempt of an enclosing Map tells its runs of a task apart.
		k, _ := a.Int64()
		i += 1000 * int(k)
	}
	inv.mu.Lock()
	if inv.attempts == nil {
		inv.attempts = map[int]int{}
	}
	inv.attempts[i*100+req.Attempt]++
	inv.mu.Unlock()
	inv.mu.Lock()
	if inv.calls == nil {
		inv.calls = map[int]int{}
	}
	inv.calls[i]++
	inv.inFlight++
	inv.maxIn = max(inv.maxIn, inv.inFlight)
	inv.mu.Unlock()
	defer func() {
		inv.mu.Lock()
		inv.inFlight--
		inv.mu.Unlock()
	}()
	if d := inv.sleep; d > 0 {
		if inv.broken[i] {
			// A broken item fails after the others finished.
			d *= 3
		}
		if err := inv.clock.Sleep(ctx, d); err != nil {
			return nil, err
		}
	}
	if inv.broken[i] {
		return nil, &asl.Failure{Name: "Item.Broken", Cause: fmt.Sprintf("item %d is broken", i)}
	}
	if inv.failFirst[i] && req.Attempt == 0 {
		return nil, &asl.Failure{Name: "Item.Flaky", Cause: "first attempt"}
	}
	return map[string]any{"done": json.Number(fmt.Sprint(i)), "attempt": member(req.Input, "attempt")}, nil
}

// member is the value of key in a JSON object, nil when v is not an
// object or has no such key.
func member(v any, key string) any {
	o, _ := v.(*jsonvalue.Object)
	x, _ := o.Get(key)
	return x
}

func (inv *itemInvoker) count(i int) int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.calls[i]
}

const mapDefinition = `{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Result": [0,1,2,3,4,5,6,7,8,9], "ResultPath": "$.items", "Next": "Each"},
    "Each": {
      "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
      "ItemSelector": {"i.$": "$$.Map.Item.Value"},
      "ItemProcessor": {
        "StartAt": "Work",
        "States": {
          "Work": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
            "Parameters": {"i.$": "$.i", "attempt.$": "$$.State.RetryCount"},
            "Retry": [{"ErrorEquals": ["Item.Flaky"], "IntervalSeconds": 2}],
            "Next": "Wait"
          },
          "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Done"},
          "Done": {"Type": "Pass", "End": true}
        }
      },
      "Next": "End"
    },
    "End": {"Type": "Succeed"}
  }
}`

// recordedResults lists the task attempts (100*task+attempt, the task
// named by its input's "i" and "m") whose result, success or failure, a
// history records.
func recordedResults(t *testing.T, h []workflow.Event) map[int]bool {
	t.Helper()
	keyOf := map[string]int{}
	attempt := map[string]int{}
	done := map[int]bool{}
	for _, e := range h {
		switch e.Type {
		case workflow.LambdaFunctionScheduled, workflow.TaskScheduled:
			var d struct{ Input, Parameters string }
			if err := json.Unmarshal(e.Details, &d); err != nil {
				t.Fatal(err)
			}
			var p struct{ I, M int }
			if err := json.Unmarshal([]byte(d.Input+d.Parameters), &p); err != nil {
				t.Fatal(err)
			}
			keyOf[e.Scope] = (p.I+1000*p.M)*100 + attempt[e.Scope]
			attempt[e.Scope]++
		case workflow.TaskStateEntered:
			attempt[e.Scope] = 0
		case workflow.TaskSucceeded, workflow.TaskFailed, workflow.TaskTimedOut,
			workflow.LambdaFunctionSucceeded, workflow.LambdaFunctionFailed, workflow.LambdaFunctionTimedOut:
			done[keyOf[e.Scope]] = true
		}
	}
	return done
}

// seed returns a journal holding history, as a restarted process finds it.
func seed(t *testing.T, id string, history []workflow.Event) *workflow.MemoryJournal {
	t.Helper()
	j := workflow.NewMemoryJournal()
	if len(history) > 0 {
		if err := j.Append(context.Background(), id, history); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

// resumeCases are definitions whose executions are cut after every
// event and resumed. Each task's input {"i": N} names it uniquely.
var resumeCases = map[string]string{
	"map retried": `{"StartAt": "Each", "States": {"Each": {
	  "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
	  "ItemSelector": {"i.$": "$$.Map.Item.Value", "attempt.$": "$$.State.RetryCount"},
	  "Retry": [{"ErrorEquals": ["Item.Unlucky"], "IntervalSeconds": 3}],
	  "ItemProcessor": {"StartAt": "Lucky", "States": {
	    "Lucky": {"Type": "Choice", "Choices": [{"And": [
	      {"Variable": "$.attempt", "NumericEquals": 0}, {"Variable": "$.i", "NumericEquals": 13}], "Next": "Unlucky"}],
	      "Default": "Work"},
	    "Unlucky": {"Type": "Fail", "Error": "Item.Unlucky"},
	    "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"i.$": "$.i", "m.$": "$.attempt"}, "End": true}}},
	  "End": true}}}`,
	"map": mapDefinition,
	// Variables come back from the history (assignedVariables): a state
	// recorded as exited before the cut does not run again, so without
	// them $count, $last or $id would be undefined after a resume; $err
	// is set by a Catcher inside a Map iteration.
	"variables": `{"StartAt": "Init", "States": {
	  "Init": {"Type": "Pass", "Assign": {"id.$": "States.Format('run-{}', $$.Execution.Name)", "base": 100}, "Next": "Each"},
	  "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
	    "ItemSelector": {"i.$": "$$.Map.Item.Value"},
	    "ItemProcessor": {"StartAt": "Work", "States": {
	      "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"i.$": "$.i", "id.$": "$id"},
	        "Catch": [{"ErrorEquals": ["Item.Broken"], "Assign": {"err.$": "$.Error"}, "Next": "Broken"}], "End": true},
	      "Broken": {"Type": "Pass", "Parameters": {"err.$": "$err", "base.$": "$base"}, "End": true}}},
	    "Assign": {"count.$": "States.ArrayLength($)"},
	    "Next": "Last"},
	  "Last": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"i": 300, "id.$": "$id"}, "Assign": {"last.$": "$.done"}, "Next": "Report"},
	  "Report": {"Type": "Pass", "Parameters": {"id.$": "$id", "count.$": "$count", "last.$": "$last"}, "End": true}}}`,
	// JSONata: variables are bindings read back from the history too,
	// and a QueryEvaluationError caught (item 27, whose Arguments give
	// nothing) records an EvaluationFailed event a resume must not trip on.
	"jsonata": `{"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
	  "Init": {"Type": "Pass", "Assign": {"id": "{% 'run-' & $states.context.Execution.Name %}", "base": 100}, "Next": "Each"},
	  "Each": {"Type": "Map", "Items": "{% $states.input.items %}", "MaxConcurrency": 2,
	    "ItemSelector": {"i": "{% $states.context.Map.Item.Value %}"},
	    "ItemProcessor": {"StartAt": "Work", "States": {
	      "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
	        "Arguments": {"i": "{% $states.input.i %}", "id": "{% $id %}", "x": "{% $states.input.i = 27 ? $states.input.nothing : 1 %}"},
	        "Catch": [{"ErrorEquals": ["Item.Broken", "States.QueryEvaluationError"], "Assign": {"err": "{% $states.errorOutput.Error %}"}, "Next": "Broken"}], "End": true},
	      "Broken": {"Type": "Pass", "Output": {"err": "{% $err %}", "base": "{% $base %}"}, "End": true}}},
	    "Assign": {"count": "{% $count($states.result) %}"},
	    "Next": "Last"},
	  "Last": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"i": 300, "id": "{% $id %}"}, "Assign": {"last": "{% $states.result.done %}"}, "Next": "Report"},
	  "Report": {"Type": "Pass", "Output": {"id": "{% $id %}", "count": "{% $count %}", "last": "{% $last %}"}, "End": true}}}`,
	"nested map with catch": `{"StartAt": "Outer", "States": {
	  "Outer": {"Type": "Map", "MaxConcurrency": 2, "ItemsPath": "$.groups",
	    "ItemProcessor": {"StartAt": "Inner", "States": {
	      "Inner": {"Type": "Map", "MaxConcurrency": 2,
	        "ItemProcessor": {"StartAt": "Work", "States": {
	          "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
	            "Parameters": {"i.$": "$"},
	            "Retry": [{"ErrorEquals": ["Item.Flaky"], "IntervalSeconds": 1, "JitterStrategy": "FULL"}],
	            "Catch": [{"ErrorEquals": ["Item.Broken"], "ResultPath": null, "Next": "Broken"}],
	            "End": true},
	          "Broken": {"Type": "Pass", "Result": "broken", "End": true}}},
	        "End": true}}},
	    "End": true}}}`,
	"parallel": `{"StartAt": "Both", "States": {
	  "Both": {"Type": "Parallel", "Next": "Last", "Branches": [
	    {"StartAt": "A", "States": {
	      "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"i": 100}, "Next": "WaitA"},
	      "WaitA": {"Type": "Wait", "Seconds": 3, "End": true}}},
	    {"StartAt": "Pick", "States": {
	      "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.go", "BooleanEquals": true, "Next": "B"}], "Default": "Skip"},
	      "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"i": 200},
	        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2}], "End": true},
	      "Skip": {"Type": "Succeed"}}}]},
	  "Last": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"i": 300, "both.$": "$"}, "End": true}}}`,
}

var resumeInputs = map[string]string{
	"variables":             `{"items": [25, 26, 27]}`,
	"jsonata":               `{"items": [25, 26, 27]}`,
	"map retried":           `{"items": [10, 11, 12, 13, 14, 15]}`,
	"map":                   `{}`,
	"nested map with catch": `{"groups": [[20, 21, 22], [23, 24], [25, 26, 27]]}`,
	"parallel":              `{"go": true}`,
}

// TestResumeAtEveryCutPoint stops executions after every event of their
// history (as a crash would) and resumes them: the outcome is the same,
// no task whose result was recorded before the cut is invoked again, and
// no task runs more often than once per attempt the full run needed.
func TestResumeAtEveryCutPoint(t *testing.T) {
	for name, def := range resumeCases {
		t.Run(name, func(t *testing.T) {
			sm := load(t, def)
			input := decode(t, resumeInputs[name])
			newInvoker := func(clock workflow.Clock) *itemInvoker {
				return &itemInvoker{clock: clock, sleep: time.Second,
					failFirst: map[int]bool{1: true, 4: true, 21: true, 200: true}, broken: map[int]bool{26: true}}
			}
			var full []workflow.Event
			var want workflow.Result
			synctest.Test(t, func(t *testing.T) {
				clock := workflow.NewFakeClock(testStart)
				j := workflow.NewMemoryJournal()
				inv := newInvoker(clock)
				in := &workflow.Interpreter{Journal: j, Invoker: inv, Clock: clock, Rand: workflow.NewSeededRand(7)}
				res, err := in.Run(context.Background(), workflow.Execution{ID: "e", StateMachineName: "m", Definition: sm, Input: input})
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != workflow.StatusSucceeded {
					t.Fatalf("status %s: %s %s", res.Status, res.Error, res.Cause)
				}
				full, want = j.History("e"), res
				if name == "jsonata" {
					raw, _ := json.Marshal(res.Output)
					got := string(raw)
					if !slices.ContainsFunc(full, func(e workflow.Event) bool { return e.Type == workflow.EvaluationFailed }) ||
						!strings.Contains(got, `"count":3`) || !strings.Contains(got, `"id":"run-e"`) {
						t.Fatalf("the full run did not go as the case means: output %s", got)
					}
				}
			})
			for cut := 1; cut < len(full); cut++ {
				prefix := append([]workflow.Event(nil), full[:cut]...)
				results := recordedResults(t, prefix)
				synctest.Test(t, func(t *testing.T) {
					clock := workflow.NewFakeClock(testStart.Add(time.Minute))
					inv := newInvoker(clock)
					j := seed(t, "e", prefix)
					// A different seed: delays drawn before the cut must
					// come from the history, not from the source.
					in := &workflow.Interpreter{Journal: j, Invoker: inv, Clock: clock, Rand: workflow.NewSeededRand(99)}
					res, err := in.Run(context.Background(), workflow.Execution{ID: "e", StateMachineName: "m", Definition: sm, History: prefix})
					if err != nil {
						t.Fatalf("cut %d: %v", cut, err)
					}
					if res.Status != want.Status || !reflect.DeepEqual(res.Output, want.Output) {
						t.Fatalf("cut %d: got %s %v, want %s %v", cut, res.Status, res.Output, want.Status, want.Output)
					}
					// A task attempt whose result was recorded before the
					// cut is not invoked again; others run at most once.
					for k, n := range inv.attempts {
						if results[k] {
							t.Errorf("cut %d: task %d attempt %d has a recorded result but was invoked %d times again", cut, k/100, k%100, n)
						} else if n > 1 {
							t.Errorf("cut %d: task %d attempt %d invoked %d times", cut, k/100, k%100, n)
						}
					}
					h := j.History("e")
					if h[len(h)-1].Type != workflow.ExecutionSucceeded {
						t.Errorf("cut %d: history ends with %s", cut, h[len(h)-1].Type)
					}
					for i, e := range h {
						if e.ID != int64(i+1) {
							t.Fatalf("cut %d: event %d has ID %d", cut, i, e.ID)
						}
					}
				})
			}
		})
	}
}

// TestResumeKeepsRetryCountAndWaitEnd cuts a history while a retried
// task waits for its next attempt, and while a Wait state waits: the
// resumed attempt is numbered 1 (not 0), and each wait ends when it
// would have without the interruption.
func TestResumeKeepsRetryCountAndWaitEnd(t *testing.T) {
	def := `{"StartAt": "Work", "States": {
	  "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
	    "Parameters": {"i": 1, "attempt.$": "$$.State.RetryCount"},
	    "Retry": [{"ErrorEquals": ["Item.Flaky"], "IntervalSeconds": 4}], "Next": "Wait"},
	  "Wait": {"Type": "Wait", "Seconds": 10, "End": true}}}`
	sm := load(t, def)
	var full []workflow.Event
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart)
		j := workflow.NewMemoryJournal()
		in := &workflow.Interpreter{Journal: j, Invoker: &itemInvoker{clock: clock, failFirst: map[int]bool{1: true}}, Clock: clock}
		res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm})
		if err != nil || res.Status != workflow.StatusSucceeded {
			t.Fatalf("%v %+v", err, res)
		}
		if got := clock.Elapsed(); got != 14*time.Second {
			t.Fatalf("execution took %v, want 14s (4s retry interval, 10s wait)", got)
		}
		full = j.History("e")
	})
	for _, c := range []struct {
		after    workflow.EventType
		resumeAt time.Duration
		attempt  string
	}{
		{workflow.LambdaFunctionFailed, time.Second, "1"},
		{workflow.WaitStateEntered, 7 * time.Second, ""},
	} {
		cut := -1
		for i, e := range full {
			if e.Type == c.after {
				cut = i + 1
				break
			}
		}
		if cut < 0 {
			var types []workflow.EventType
			for _, e := range full {
				types = append(types, e.Type)
			}
			t.Fatalf("no %s event in %v", c.after, types)
		}
		prefix := append([]workflow.Event(nil), full[:cut]...)
		synctest.Test(t, func(t *testing.T) {
			clock := workflow.NewFakeClock(testStart.Add(c.resumeAt))
			inv := &itemInvoker{clock: clock}
			in := &workflow.Interpreter{Journal: seed(t, "e", prefix), Invoker: inv, Clock: clock}
			res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm, History: prefix})
			if err != nil || res.Status != workflow.StatusSucceeded {
				t.Fatalf("%v %+v", err, res)
			}
			if got := clock.Now(); !got.Equal(testStart.Add(14 * time.Second)) {
				t.Errorf("resumed after %s: ended at %v, want %v", c.after, got, testStart.Add(14*time.Second))
			}
			if c.attempt != "" {
				if got := fmt.Sprint(member(res.Output, "attempt")); got != c.attempt {
					t.Errorf("resumed attempt has RetryCount %s, want %s", got, c.attempt)
				}
			} else if inv.count(1) != 0 {
				t.Errorf("task invoked again after it succeeded")
			}
		})
	}
}

// TestMapMaxConcurrency checks that no more iterations than
// MaxConcurrency run at once, and that they keep that many busy.
func TestMapMaxConcurrency(t *testing.T) {
	def := strings.Replace(mapDefinition, `"MaxConcurrency": 3`, `"MaxConcurrency": 4`, 1)
	def = strings.Replace(def, `"Seconds": 5`, `"Seconds": 0`, 1)
	sm := load(t, def)
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart)
		inv := &itemInvoker{clock: clock, sleep: 10 * time.Second}
		in := &workflow.Interpreter{Journal: workflow.NewMemoryJournal(), Invoker: inv, Clock: clock}
		res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm})
		if err != nil || res.Status != workflow.StatusSucceeded {
			t.Fatalf("%v %+v", err, res)
		}
		if inv.maxIn != 4 {
			t.Errorf("at most %d tasks ran at once, want 4", inv.maxIn)
		}
		// 10 items, 4 at a time, 10 s each: three rounds.
		if got := clock.Elapsed(); got != 30*time.Second {
			t.Errorf("took %v, want 30s", got)
		}
	})
}

// TestRedriveReRunsOnlyFailedIterations fails two items of a Map, then
// redrives the execution: only those two run again.
func TestRedriveReRunsOnlyFailedIterations(t *testing.T) {
	def := strings.Replace(mapDefinition, `"MaxConcurrency": 3,`, `"ToleratedFailureCount": 0,`, 1)
	def = strings.Replace(def, `"StartAt": "Work",`, `"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Work",`, 1)
	def = strings.Replace(def, `"Seconds": 5`, `"Seconds": 0`, 1)
	sm := load(t, def)
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart)
		j := workflow.NewMemoryJournal()
		broken := &itemInvoker{clock: clock, broken: map[int]bool{3: true}, sleep: time.Second}
		in := &workflow.Interpreter{Journal: j, Invoker: broken, Clock: clock}
		ex := workflow.Execution{ID: "e", Definition: sm}
		res, err := in.Run(context.Background(), ex)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != workflow.StatusFailed || res.Error != asl.ErrExceedToleratedFailureThreshold {
			t.Fatalf("first run: %+v", res)
		}
		fixed := &itemInvoker{clock: clock}
		in.Invoker = fixed
		ex.History, ex.Redrive = j.History("e"), true
		res, err = in.Run(context.Background(), ex)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != workflow.StatusSucceeded {
			t.Fatalf("redrive: %+v", res)
		}
		for i := range 10 {
			want := 0
			if i == 3 {
				want = 1
			}
			if got := fixed.count(i); got != want {
				t.Errorf("redrive invoked item %d %d times, want %d", i, got, want)
			}
		}
		items := res.Output.([]any)
		if len(items) != 10 || fmt.Sprint(member(items[3], "done")) != "3" {
			t.Errorf("redriven output: %v", items)
		}
		h := j.History("e")
		redriven := 0
		for _, e := range h {
			if e.Type == workflow.ExecutionRedriven {
				redriven++
			}
		}
		if redriven != 1 || h[len(h)-1].Type != workflow.ExecutionSucceeded {
			t.Errorf("history has %d ExecutionRedriven events and ends with %s", redriven, h[len(h)-1].Type)
		}
		// A redriven execution resumes like any other: the finished
		// history replays to the same result without invoking anything.
		again := &itemInvoker{clock: clock}
		in.Invoker, in.Journal = again, seed(t, "e", h[:len(h)-1])
		res2, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm, History: h[:len(h)-1]})
		if err != nil || !reflect.DeepEqual(res2.Output, res.Output) {
			t.Fatalf("replay of the redriven history: %v %+v", err, res2)
		}
		if len(again.calls) != 0 {
			t.Errorf("replaying a finished redrive invoked %v", again.calls)
		}
	})
}

// TestJournalFailureStopsAndResumes makes the journal fail midway: Run
// reports the error and records nothing more; resuming from what was
// stored finishes the execution.
func TestJournalFailureStopsAndResumes(t *testing.T) {
	sm := load(t, mapDefinition)
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart)
		j := workflow.NewMemoryJournal()
		appends := 0
		broken := errors.New("disk full")
		j.Fail = func(string, []workflow.Event) error {
			appends++
			if appends > 5 {
				return broken
			}
			return nil
		}
		in := &workflow.Interpreter{Journal: j, Invoker: &itemInvoker{clock: clock}, Clock: clock}
		_, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm})
		if !errors.Is(err, broken) {
			t.Fatalf("Run: %v, want the journal's error", err)
		}
		j.Fail = nil
		h := j.History("e")
		res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm, History: h})
		if err != nil || res.Status != workflow.StatusSucceeded {
			t.Fatalf("resume: %v %+v", err, res)
		}
	})
}

// TestAbort stops an execution with an Abort cause: ExecutionAborted is
// recorded; a plain cancellation records nothing.
func TestAbort(t *testing.T) {
	sm := load(t, `{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}}`)
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart)
		j := workflow.NewMemoryJournal()
		in := &workflow.Interpreter{Journal: j, Clock: clock}

		ctx, cancel := context.WithCancel(context.Background())
		go func() { _ = clock.Sleep(context.Background(), 10*time.Second); cancel() }()
		if _, err := in.Run(ctx, workflow.Execution{ID: "shutdown", Definition: sm}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run after cancel: %v", err)
		}
		h := j.History("shutdown")
		if last := h[len(h)-1].Type; last != workflow.WaitStateEntered {
			t.Errorf("a shutdown recorded %s", last)
		}

		actx, stop := context.WithCancelCause(context.Background())
		go func() {
			_ = clock.Sleep(context.Background(), 10*time.Second)
			stop(&workflow.Abort{Name: "Operator", Cause: "stopped by hand"})
		}()
		res, err := in.Run(actx, workflow.Execution{ID: "abort", Definition: sm})
		if err != nil || res.Status != workflow.StatusAborted || res.Cause != "stopped by hand" {
			t.Fatalf("abort: %v %+v", err, res)
		}
		h = j.History("abort")
		if last := h[len(h)-1]; last.Type != workflow.ExecutionAborted {
			t.Errorf("abort recorded %s last", last.Type)
		}
	})
}

// TestHistoryJSON checks the GetExecutionHistory shape of events.
func TestHistoryJSON(t *testing.T) {
	sm := load(t, `{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": 1}, "End": true}}}`)
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart)
		j := workflow.NewMemoryJournal()
		in := &workflow.Interpreter{Journal: j, Clock: clock}
		if _, err := in.Run(context.Background(), workflow.Execution{ID: "e", Name: "run1", StateMachineName: "m", Definition: sm, Input: decode(t, `{"a":true}`)}); err != nil {
			t.Fatal(err)
		}
		b, err := workflow.MarshalHistory(j.History("e"))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Events []map[string]any `json:"events"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		var types []string
		for _, e := range got.Events {
			types = append(types, e["type"].(string))
			if _, ok := e["scope"]; ok {
				t.Errorf("internal field scope shown: %v", e)
			}
		}
		want := []string{"ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"}
		if !reflect.DeepEqual(types, want) {
			t.Fatalf("types %v, want %v", types, want)
		}
		first := got.Events[0]
		if first["id"] != 1.0 || first["previousEventId"] != 0.0 || first["timestamp"] != "2024-01-01T00:00:00.000Z" {
			t.Errorf("first event: %v", first)
		}
		started := first["executionStartedEventDetails"].(map[string]any)
		if started["input"] != `{"a":true}` {
			t.Errorf("started details: %v", started)
		}
		exited := got.Events[2]["stateExitedEventDetails"].(map[string]any)
		if exited["name"] != "P" || exited["output"] != `{"x":1}` || got.Events[2]["previousEventId"] != 2.0 {
			t.Errorf("exited event: %v", got.Events[2])
		}
	})
}

// TestItemReaderStaysInBaseDir refuses an item file outside BaseDir.
func TestItemReaderStaysInBaseDir(t *testing.T) {
	base := t.TempDir()
	sm := load(t, `{"StartAt": "M", "States": {"M": {"Type": "Map",
	  "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
	    "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"}},
	  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
	    "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
	  "End": true}}}`)
	in := &workflow.Interpreter{Journal: workflow.NewMemoryJournal(), BaseDir: base}
	for i, key := range []string{"../../etc/passwd", "/etc/passwd"} {
		res, err := in.Run(context.Background(), workflow.Execution{ID: fmt.Sprint(i), Definition: sm,
			Input: map[string]any{"bucket": "b", "key": key}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != workflow.StatusFailed || res.Error != asl.ErrItemReaderFailed {
			t.Errorf("key %q: %+v", key, res)
		}
	}
}

// TestConcurrentAppendsAreGrouped checks the group commit: a Map with
// 50 iterations in flight appends far fewer batches than it has events,
// each batch numbered on from the one before.
func TestConcurrentAppendsAreGrouped(t *testing.T) {
	sm := load(t, strings.Replace(benchMap, `"MaxConcurrency": 100`, `"MaxConcurrency": 50`, 1))
	items := make([]any, 500)
	for i := range items {
		items[i] = json.Number(fmt.Sprint(i))
	}
	j := workflow.NewMemoryJournal()
	batches := 0
	j.Fail = func(string, []workflow.Event) error {
		batches++
		// Appends take a while, as a disk's do; meanwhile others queue.
		time.Sleep(time.Millisecond)
		return nil
	}
	in := &workflow.Interpreter{Journal: j}
	res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm, Input: items})
	if err != nil || res.Status != workflow.StatusSucceeded {
		t.Fatalf("%v %+v", err, res)
	}
	events := len(j.History("e"))
	if events < 4*500 {
		t.Fatalf("%d events", events)
	}
	if batches > events/10 {
		t.Errorf("%d appends for %d events: appends are not grouped", batches, events)
	}
}

// TestRedriveParallelReRunsOnlyTheFailedBranch redrives a Parallel state
// whose second branch failed after its first state: the first branch and
// the finished state of the second are not run again.
func TestRedriveParallelReRunsOnlyTheFailedBranch(t *testing.T) {
	sm := load(t, `{"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true, "Branches": [
	  {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"i": 1}, "End": true}}},
	  {"StartAt": "B1", "States": {
	    "B1": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"i": 2}, "ResultPath": null, "Next": "B2"},
	    "B2": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"i": 3}, "End": true}}}]}}}`)
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart)
		j := workflow.NewMemoryJournal()
		// Tasks take a second, the broken one three: A has finished
		// when B2 fails.
		in := &workflow.Interpreter{Journal: j, Invoker: &itemInvoker{clock: clock, sleep: time.Second, broken: map[int]bool{3: true}}, Clock: clock}
		ex := workflow.Execution{ID: "e", Definition: sm}
		res, err := in.Run(context.Background(), ex)
		if err != nil || res.Status != workflow.StatusFailed || res.Error != "Item.Broken" {
			t.Fatalf("first run: %v %+v", err, res)
		}
		fixed := &itemInvoker{clock: clock}
		in.Invoker = fixed
		ex.History, ex.Redrive = j.History("e"), true
		res, err = in.Run(context.Background(), ex)
		if err != nil || res.Status != workflow.StatusSucceeded {
			t.Fatalf("redrive: %v %+v", err, res)
		}
		if want := map[int]int{3: 1}; !reflect.DeepEqual(fixed.calls, want) {
			t.Errorf("redrive invoked %v, want %v", fixed.calls, want)
		}
		out := res.Output.([]any)
		if len(out) != 2 || fmt.Sprint(member(out[0], "done")) != "1" || fmt.Sprint(member(out[1], "done")) != "3" {
			t.Errorf("output %v", out)
		}
	})
}

// TestResumeKeepsAbortedBranchesAborted resumes a Parallel that failed
// once and is being retried: the branch the failure stopped in its first
// attempt is not run again for that attempt, only for the retry.
func TestResumeKeepsAbortedBranchesAborted(t *testing.T) {
	sm := load(t, `{"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true,
	  "Parameters": {"attempt.$": "$$.State.RetryCount"},
	  "Retry": [{"ErrorEquals": ["Branch.Failed"], "IntervalSeconds": 5}],
	  "Branches": [
	    {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"i": 1}, "End": true}}},
	    {"StartAt": "First", "States": {
	      "First": {"Type": "Choice", "Choices": [{"Variable": "$.attempt", "NumericEquals": 0, "Next": "Fail"}], "Default": "Fine"},
	      "Fail": {"Type": "Fail", "Error": "Branch.Failed"},
	      "Fine": {"Type": "Pass", "End": true}}}]}}}`)
	var full []workflow.Event
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart)
		j := workflow.NewMemoryJournal()
		inv := &itemInvoker{clock: clock, sleep: 10 * time.Second}
		in := &workflow.Interpreter{Journal: j, Invoker: inv, Clock: clock}
		res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm})
		if err != nil || res.Status != workflow.StatusSucceeded {
			t.Fatalf("%v %+v", err, res)
		}
		if inv.count(1) != 2 {
			t.Fatalf("the slow task ran %d times, want 2 (stopped once, then retried)", inv.count(1))
		}
		full = j.History("e")
	})
	// Cut while the retry waits: a retried attempt records no
	// ParallelStateFailed, the next attempt's ParallelStateStarted
	// follows it.
	cut, aborted, started := -1, false, 0
	for i, e := range full {
		aborted = aborted || e.Type == workflow.TaskStateAborted
		if e.Type == workflow.ParallelStateFailed {
			t.Fatalf("a retried attempt recorded ParallelStateFailed (event %d)", e.ID)
		}
		if e.Type == workflow.ParallelStateStarted {
			if started++; started == 2 {
				cut = i
				break
			}
		}
	}
	if cut < 0 || !aborted {
		t.Fatalf("history has no aborted task before the retry's ParallelStateStarted")
	}
	prefix := append([]workflow.Event(nil), full[:cut]...)
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart.Add(time.Second))
		inv := &itemInvoker{clock: clock, sleep: 10 * time.Second}
		in := &workflow.Interpreter{Journal: seed(t, "e", prefix), Invoker: inv, Clock: clock}
		res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm, History: prefix})
		if err != nil || res.Status != workflow.StatusSucceeded {
			t.Fatalf("%v %+v", err, res)
		}
		if inv.count(1) != 1 {
			t.Errorf("after resume the slow task ran %d times, want 1 (the retry only)", inv.count(1))
		}
	})
}

// idInvoker records the ScheduledEventID of each invocation.
type idInvoker struct {
	mu  sync.Mutex
	ids []int64
}

func (inv *idInvoker) Invoke(_ context.Context, req workflow.TaskRequest) (any, error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.ids = append(inv.ids, req.ScheduledEventID)
	return "done", nil
}

// TestInFlightTaskKeepsItsScheduledEventID resumes a task that was in
// flight: invoked again, it carries the ID of the TaskScheduled event
// recorded before, which resources use to make their effect happen once.
func TestInFlightTaskKeepsItsScheduledEventID(t *testing.T) {
	sm := load(t, `{"StartAt": "P", "States": {
	  "P": {"Type": "Pass", "Next": "T"},
	  "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}`)
	j := workflow.NewMemoryJournal()
	first := &idInvoker{}
	in := &workflow.Interpreter{Journal: j, Invoker: first}
	if _, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm}); err != nil {
		t.Fatal(err)
	}
	h := j.History("e")
	var scheduled int64
	cut := 0
	for i, e := range h {
		if e.Type == workflow.TaskScheduled {
			scheduled = e.ID
		}
		if e.Type == workflow.TaskStarted {
			cut = i + 1
		}
	}
	if len(first.ids) != 1 || first.ids[0] != scheduled || scheduled == 0 {
		t.Fatalf("invoked with IDs %v, TaskScheduled is event %d", first.ids, scheduled)
	}
	again := &idInvoker{}
	in = &workflow.Interpreter{Journal: seed(t, "e", h[:cut]), Invoker: again}
	if _, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm, History: h[:cut]}); err != nil {
		t.Fatal(err)
	}
	if len(again.ids) != 1 || again.ids[0] != scheduled {
		t.Errorf("resumed invocation has IDs %v, want [%d]", again.ids, scheduled)
	}
}

// TestExecutionTimeoutCountsFromTheStart resumes an execution with
// TimeoutSeconds: it times out when it would have without the restart.
func TestExecutionTimeoutCountsFromTheStart(t *testing.T) {
	sm := load(t, `{"StartAt": "W", "TimeoutSeconds": 10, "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}}`)
	var prefix []workflow.Event
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart)
		j := workflow.NewMemoryJournal()
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _ = clock.Sleep(context.Background(), 3*time.Second); cancel() }()
		in := &workflow.Interpreter{Journal: j, Clock: clock}
		if _, err := in.Run(ctx, workflow.Execution{ID: "e", Definition: sm}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v", err)
		}
		prefix = j.History("e")
	})
	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(testStart.Add(4 * time.Second))
		in := &workflow.Interpreter{Journal: seed(t, "e", prefix), Clock: clock}
		res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm, History: prefix})
		if err != nil || res.Status != workflow.StatusTimedOut {
			t.Fatalf("%v %+v", err, res)
		}
		if got := clock.Now(); !got.Equal(testStart.Add(10 * time.Second)) {
			t.Errorf("timed out at %v, want %v", got, testStart.Add(10*time.Second))
		}
	})
}

// TestResumeWithChangedDefinition resumes a history under a definition
// whose state was renamed: the recorded output of the old state is not
// lent to the new one, which runs.
func TestResumeWithChangedDefinition(t *testing.T) {
	old := load(t, `{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "old", "Next": "W"}, "W": {"Type": "Wait", "Seconds": 0, "End": true}}}`)
	renamed := load(t, `{"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "new", "Next": "W"}, "W": {"Type": "Wait", "Seconds": 0, "End": true}}}`)
	j := workflow.NewMemoryJournal()
	in := &workflow.Interpreter{Journal: j}
	if _, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: old}); err != nil {
		t.Fatal(err)
	}
	h := j.History("e")
	prefix := h[:len(h)-3] // up to A's exit
	in = &workflow.Interpreter{Journal: seed(t, "e", prefix)}
	res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: renamed, History: prefix})
	if err != nil || res.Status != workflow.StatusSucceeded || res.Output != "new" {
		t.Fatalf("%v %+v", err, res)
	}
}

// TestStopInterruptsJSONataExpression stops an execution while a JSONata
// expression runs (one that would run until the evaluator's step limit):
// the Run ends at once, as stopped, with no EvaluationFailed recorded for
// an expression that did not fail.
func TestStopInterruptsJSONataExpression(t *testing.T) {
	sm := load(t, `{"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass",
	  "Output": "{% $count([1..3000].([1..3000].($))) %}", "End": true}}}`)
	j := workflow.NewMemoryJournal()
	in := &workflow.Interpreter{Journal: j}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := in.Run(ctx, workflow.Execution{ID: "e", Definition: sm})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v, want the context's error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %v after the stop", d)
	}
	for _, e := range j.History("e") {
		if e.Type == workflow.EvaluationFailed || e.Type == workflow.ExecutionFailed {
			t.Errorf("a stop recorded %s", e.Type)
		}
	}
}
