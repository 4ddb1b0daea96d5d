package workflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sort"
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

// goldenDir holds one conformance case per file, grouped by area
// (pass, task, choice, map, retry, ...). Each case is written from the
// States Language specification and the Step Functions developer guide:
// a definition, its input, the scripted task results, and what the
// execution must end with.
const goldenDir = "testdata/golden"

// goldenStart is when every golden execution starts on the fake clock.
var goldenStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// goldenRoleArn is the execution role every golden execution reports in
// $$.Execution.RoleArn.
const goldenRoleArn = "arn:aws:iam::123456789012:role/golden"

// goldenCase is the format of a testdata/golden file.
type goldenCase struct {
	Comment    string                  `json:"comment"`
	Definition json.RawMessage         `json:"definition"`
	Input      json.RawMessage         `json:"input"`
	Tasks      map[string][]goldenStep `json:"tasks"`
	// Files are written to a fresh directory that is the interpreter's
	// BaseDir (where Map ItemReader finds its files); keys are paths
	// relative to it.
	Files  map[string]string `json:"files"`
	Expect goldenExpect      `json:"expect"`
	// TaskInputs lists, per Task state, the input of each invocation in
	// order; a state listed with no inputs must not be invoked at all.
	TaskInputs map[string][]json.RawMessage `json:"taskInputs"`
	// ElapsedSeconds is the virtual time at which the execution ended;
	// ElapsedSecondsMax bounds it where it is random (JitterStrategy FULL).
	ElapsedSeconds    *float64 `json:"elapsedSeconds"`
	ElapsedSecondsMax *float64 `json:"elapsedSecondsMax"`
	// EventTypes is the journal's history, event types in ID order, as
	// GetExecutionHistory lists them.
	EventTypes []string `json:"eventTypes"`
	// Skip names why a case is not run yet; Invalid marks a definition
	// that asl.Validate must reject (it is then not run).
	Skip    string `json:"skip"`
	Invalid bool   `json:"invalid"`
}

type goldenExpect struct {
	Status string `json:"status"`
	// Output is compared when present (JSON null included).
	Output        json.RawMessage `json:"output"`
	Error         string          `json:"error"`
	Cause         *string         `json:"cause"`
	CauseContains string          `json:"causeContains"`
}

// goldenStep is what one invocation of a Task state does: run for
// SleepSeconds of virtual time (sending a heartbeat every
// HeartbeatEverySeconds, when set), then fail with Error and Cause,
// return Return, or, with Echo, return what the interpreter asked
// ({"input", "token", "attempt", "resource"}) so a case can check the
// request's task token and attempt number.
type goldenStep struct {
	Return                json.RawMessage `json:"return"`
	Error                 string          `json:"error"`
	Cause                 string          `json:"cause"`
	SleepSeconds          float64         `json:"sleepSeconds"`
	HeartbeatEverySeconds float64         `json:"heartbeatEverySeconds"`
	Echo                  bool            `json:"echo"`
}

// TestGolden runs every case of testdata/golden.
func TestGolden(t *testing.T) {
	var files []string
	err := filepath.WalkDir(goldenDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no golden cases in %s", goldenDir)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.ToSlash(strings.TrimPrefix(file, goldenDir+string(filepath.Separator))), ".json")
		t.Run(name, func(t *testing.T) { runGolden(t, file) })
	}
}

func runGolden(t *testing.T, file string) {
	c, err := readGoldenCase(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Skip != "" {
		t.Skipf("%s: skipped: %s", file, c.Skip)
	}
	problems := asl.Validate(file, c.Definition)
	if c.Invalid {
		if len(problems) == 0 {
			t.Fatalf("%s: marked invalid, but asl.Validate accepts the definition", file)
		}
		return
	}
	if len(problems) > 0 {
		t.Fatalf("%s: a golden definition must be valid; asl.Validate says:\n%s", file, asl.Errors(problems).Error())
	}
	sm, err := asl.Load(file, c.Definition)
	if err != nil {
		t.Fatalf("%s: asl.Load: %v", file, err)
	}
	input, err := payload.Decode(c.Input)
	if err != nil {
		t.Fatalf("%s: input: %v", file, err)
	}
	baseDir := t.TempDir()
	for rel, content := range c.Files {
		path := filepath.Join(baseDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	synctest.Test(t, func(t *testing.T) {
		clock := workflow.NewFakeClock(goldenStart)
		invoker := &goldenInvoker{clock: clock, script: c.Tasks, inputs: map[string][]any{}}
		journal := workflow.NewMemoryJournal()
		in := &workflow.Interpreter{
			Journal: journal,
			Invoker: invoker,
			Clock:   clock,
			Rand:    workflow.NewSeededRand(1),
			BaseDir: baseDir,
		}
		// A virtual day bounds a case that would otherwise never end.
		ctx, cancel := context.WithTimeout(context.Background(), 24*time.Hour)
		defer cancel()
		res, err := in.Run(ctx, workflow.Execution{
			ID:               "test",
			Name:             "test",
			StateMachineName: "golden",
			RoleArn:          goldenRoleArn,
			Definition:       sm,
			Input:            input,
		})
		elapsed := clock.Elapsed()
		if err != nil {
			t.Fatalf("%s\n%s\nRun: %v", file, c.Comment, err)
		}
		var types []string
		for _, e := range journal.History("test") {
			types = append(types, string(e.Type))
		}
		mismatches := goldenMismatches(c, res, elapsed, invoker)
		if c.EventTypes != nil && !slices.Equal(types, c.EventTypes) {
			mismatches = append(mismatches, fmt.Sprintf("history: got event types %v, want %v", types, c.EventTypes))
		}
		if len(mismatches) > 0 {
			t.Errorf("%s\n%s\n%s\nexpected: %s\nactual:   %s", file, c.Comment,
				strings.Join(mismatches, "\n"), goldenExpected(c), goldenActual(res, elapsed, invoker))
		}
	})
}

func readGoldenCase(file string) (*goldenCase, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c goldenCase
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(c.Definition) == 0 {
		return nil, fmt.Errorf("%s: no definition", file)
	}
	if len(c.Input) == 0 {
		c.Input = json.RawMessage("{}")
	}
	if c.Expect.Status == "" {
		return nil, fmt.Errorf("%s: expect.status is missing", file)
	}
	return &c, nil
}

// goldenMismatches lists every way the run differs from the case.
func goldenMismatches(c *goldenCase, res workflow.Result, elapsed time.Duration, inv *goldenInvoker) []string {
	var out []string
	want := c.Expect
	if res.Status != want.Status {
		out = append(out, fmt.Sprintf("status: got %s, want %s", res.Status, want.Status))
	}
	if want.Output != nil {
		if eq, err := goldenEqualRaw(want.Output, res.Output); err != nil {
			out = append(out, "output: "+err.Error())
		} else if !eq {
			out = append(out, "output differs")
		}
	}
	if want.Error != "" && res.Error != want.Error {
		out = append(out, fmt.Sprintf("error: got %q, want %q", res.Error, want.Error))
	}
	if want.Cause != nil && res.Cause != *want.Cause {
		out = append(out, fmt.Sprintf("cause: got %q, want %q", res.Cause, *want.Cause))
	}
	if want.CauseContains != "" && !strings.Contains(res.Cause, want.CauseContains) {
		out = append(out, fmt.Sprintf("cause: %q does not contain %q", res.Cause, want.CauseContains))
	}
	if c.ElapsedSeconds != nil {
		wantD := time.Duration(*c.ElapsedSeconds * float64(time.Second))
		if d := elapsed - wantD; d > time.Millisecond || d < -time.Millisecond {
			out = append(out, fmt.Sprintf("elapsed: got %v, want %v", elapsed, wantD))
		}
	}
	if c.ElapsedSecondsMax != nil {
		if maxD := time.Duration(*c.ElapsedSecondsMax * float64(time.Second)); elapsed > maxD+time.Millisecond {
			out = append(out, fmt.Sprintf("elapsed: got %v, want at most %v", elapsed, maxD))
		}
	}
	states := make([]string, 0, len(c.TaskInputs))
	for s := range c.TaskInputs {
		states = append(states, s)
	}
	sort.Strings(states)
	got := inv.recorded()
	for _, s := range states {
		wantInputs := c.TaskInputs[s]
		gotInputs := got[s]
		if len(gotInputs) != len(wantInputs) {
			out = append(out, fmt.Sprintf("task %s: invoked %d times, want %d", s, len(gotInputs), len(wantInputs)))
			continue
		}
		for i := range wantInputs {
			if eq, err := goldenEqualRaw(wantInputs[i], gotInputs[i]); err != nil || !eq {
				out = append(out, fmt.Sprintf("task %s: input of invocation %d differs", s, i+1))
			}
		}
	}
	return out
}

func goldenExpected(c *goldenCase) string {
	m := map[string]any{"status": c.Expect.Status}
	if c.Expect.Output != nil {
		m["output"] = c.Expect.Output
	}
	if c.Expect.Error != "" {
		m["error"] = c.Expect.Error
	}
	if c.Expect.Cause != nil {
		m["cause"] = *c.Expect.Cause
	}
	if c.Expect.CauseContains != "" {
		m["causeContains"] = c.Expect.CauseContains
	}
	if c.ElapsedSeconds != nil {
		m["elapsedSeconds"] = *c.ElapsedSeconds
	}
	if c.ElapsedSecondsMax != nil {
		m["elapsedSecondsMax"] = *c.ElapsedSecondsMax
	}
	if c.TaskInputs != nil {
		m["taskInputs"] = c.TaskInputs
	}
	return goldenJSON(m)
}

func goldenActual(res workflow.Result, elapsed time.Duration, inv *goldenInvoker) string {
	m := map[string]any{"status": res.Status, "elapsedSeconds": elapsed.Seconds()}
	if res.Status == workflow.StatusSucceeded {
		m["output"] = res.Output
	} else {
		m["error"] = res.Error
		m["cause"] = res.Cause
	}
	if rec := inv.recorded(); len(rec) > 0 {
		m["taskInputs"] = rec
	}
	return goldenJSON(m)
}

func goldenJSON(v any) string {
	b, err := jsonvalue.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v (%v)", v, err)
	}
	return string(b)
}

// goldenEqualRaw reports whether want (JSON text) and got (any Go value
// that marshals to JSON) are the same JSON value, numbers compared by
// value so that 1, 1.0 and 1e0 are equal.
func goldenEqualRaw(want json.RawMessage, got any) (bool, error) {
	w, err := payload.Decode(want)
	if err != nil {
		return false, fmt.Errorf("expected value: %w", err)
	}
	b, err := jsonvalue.Marshal(got)
	if err != nil {
		return false, fmt.Errorf("actual value does not marshal: %w", err)
	}
	g, err := payload.Decode(b)
	if err != nil {
		return false, fmt.Errorf("actual value: %w", err)
	}
	return goldenEqual(w, g), nil
}

func goldenEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case json.Number:
		bn, ok := b.(json.Number)
		return ok && goldenNumberEqual(a, bn)
	case []any:
		ba, ok := b.([]any)
		if !ok || len(a) != len(ba) {
			return false
		}
		for i := range a {
			if !goldenEqual(a[i], ba[i]) {
				return false
			}
		}
		return true
	case *jsonvalue.Object:
		// Members must also come in the same order: Step Functions keeps
		// the order of the input and of the templates.
		bo, ok := b.(*jsonvalue.Object)
		if !ok || a.Len() != bo.Len() {
			return false
		}
		am, bm := a.Members(), bo.Members()
		for i := range am {
			if am[i].Key != bm[i].Key || !goldenEqual(am[i].Value, bm[i].Value) {
				return false
			}
		}
		return true
	}
	return false
}

// goldenNumberEqual compares exactly (big.Rat), so large integers and decimals
// are not rounded through float64.
func goldenNumberEqual(a, b json.Number) bool {
	ra, okA := new(big.Rat).SetString(a.String())
	rb, okB := new(big.Rat).SetString(b.String())
	if okA && okB {
		return ra.Cmp(rb) == 0
	}
	fa, errA := a.Float64()
	fb, errB := b.Float64()
	return errA == nil && errB == nil && (fa == fb || math.IsNaN(fa) && math.IsNaN(fb))
}

// goldenInvoker plays a case's tasks: the nth invocation of state S
// gets script[S][n], the last entry repeating.
type goldenInvoker struct {
	clock  workflow.Clock
	script map[string][]goldenStep

	mu     sync.Mutex
	inputs map[string][]any
}

func (s *goldenInvoker) Invoke(ctx context.Context, req workflow.TaskRequest) (any, error) {
	s.mu.Lock()
	n := len(s.inputs[req.StateName])
	s.inputs[req.StateName] = append(s.inputs[req.StateName], req.Input)
	steps := s.script[req.StateName]
	s.mu.Unlock()
	if len(steps) == 0 {
		return nil, &asl.Failure{Name: "Golden.NoScript", Cause: fmt.Sprintf("the case has no tasks entry for state %q", req.StateName)}
	}
	step := steps[min(n, len(steps)-1)]
	if err := s.run(ctx, req, step); err != nil {
		return nil, err
	}
	if step.Error != "" {
		return nil, &asl.Failure{Name: step.Error, Cause: step.Cause}
	}
	if step.Echo {
		echo := jsonvalue.NewObject(4)
		echo.Set("input", req.Input)
		echo.Set("token", req.TaskToken)
		echo.Set("attempt", json.Number(fmt.Sprint(req.Attempt)))
		echo.Set("resource", req.Resource)
		return echo, nil
	}
	if len(step.Return) == 0 {
		return nil, nil
	}
	return payload.Decode(step.Return)
}

// run spends the step's virtual time, heartbeating when asked to.
func (s *goldenInvoker) run(ctx context.Context, req workflow.TaskRequest, step goldenStep) error {
	left := time.Duration(step.SleepSeconds * float64(time.Second))
	every := time.Duration(step.HeartbeatEverySeconds * float64(time.Second))
	for left > 0 {
		d := left
		if every > 0 && every < d {
			d = every
		}
		if err := s.clock.Sleep(ctx, d); err != nil {
			return err
		}
		left -= d
		if every > 0 && left > 0 {
			req.Heartbeat()
		}
	}
	return nil
}

func (s *goldenInvoker) recorded() map[string][]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]any, len(s.inputs))
	for k, v := range s.inputs {
		out[k] = append([]any(nil), v...)
	}
	return out
}
