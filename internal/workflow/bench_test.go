package workflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/workflow"
)

const benchMap = `{"StartAt": "Each", "States": {"Each": {
  "Type": "Map", "MaxConcurrency": 100,
  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"n.$": "$"}, "End": true}}},
  "End": true}}}`

// storeJournal appends to the SQLite store the way the CLI does: each
// event kept whole as JSON.
type storeJournal struct {
	st  *sqlite.Store
	ids map[string]int64
}

func (j storeJournal) Append(ctx context.Context, executionID string, events []workflow.Event) error {
	out := make([]store.Event, len(events))
	for i, e := range events {
		body, err := e.MarshalJournal()
		if err != nil {
			return err
		}
		out[i] = store.Event{ID: e.ID, Type: string(e.Type), At: e.Timestamp, Body: body}
	}
	return j.st.AppendEvents(ctx, j.ids[executionID], out)
}

// BenchmarkMap10k runs a Map over 10,000 items (a Pass inside,
// MaxConcurrency 100) and reports state transitions per second, with the
// in-memory journal and with the SQLite store. The SQLite figure is the
// one the goal of 10,000 transitions/s applies to. Run it with
//
//	go test ./internal/workflow -run '^$' -bench 'Map10k' -benchtime 3x -benchmem
func BenchmarkMap10k(b *testing.B) {
	sm := load(b, benchMap)
	items := make([]any, 10000)
	for i := range items {
		items[i] = json.Number(fmt.Sprint(i))
	}
	for _, name := range []string{"memory", "sqlite"} {
		b.Run(name, func(b *testing.B) {
			var journal func(id string) workflow.Journal
			switch name {
			case "memory":
				journal = func(string) workflow.Journal { return workflow.NewMemoryJournal() }
			case "sqlite":
				st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "velocity.db"))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { st.Close() })
				journal = func(id string) workflow.Journal {
					eid, err := st.CreateExecution(context.Background(), store.Execution{ARN: "arn:" + id, Name: id, StateMachine: "bench", Status: store.ExecutionRunning})
					if err != nil {
						b.Fatal(err)
					}
					return storeJournal{st: st, ids: map[string]int64{id: eid}}
				}
			}
			transitions, appends := 0, 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := fmt.Sprintf("bench-%d", i)
				j := journal(id)
				counter := &countingJournal{Journal: j}
				in := &workflow.Interpreter{Journal: counter}
				res, err := in.Run(context.Background(), workflow.Execution{ID: id, StateMachineName: "bench", Definition: sm, Input: items})
				if err != nil || res.Status != workflow.StatusSucceeded {
					b.Fatalf("%v %+v", err, res.Error)
				}
				transitions += counter.entered
				appends += counter.appends
			}
			b.ReportMetric(float64(transitions)/b.Elapsed().Seconds(), "transitions/s")
			b.ReportMetric(float64(appends)/float64(b.N), "appends/op")
		})
	}
}

// countingJournal counts state entries (state transitions) and Appends
// (commits) on the way.
type countingJournal struct {
	workflow.Journal
	entered, appends int
}

func (c *countingJournal) Append(ctx context.Context, id string, events []workflow.Event) error {
	c.appends++
	for _, e := range events {
		if strings.HasSuffix(string(e.Type), "StateEntered") {
			c.entered++
		}
	}
	return c.Journal.Append(ctx, id, events)
}

// BenchmarkResumeMap10k resumes the 10,000-item Map from a history cut
// in the middle: the recorded half is walked, not run, and the walk must
// not grow with the square of the history.
func BenchmarkResumeMap10k(b *testing.B) {
	sm := load(b, benchMap)
	items := make([]any, 10000)
	for i := range items {
		items[i] = json.Number(fmt.Sprint(i))
	}
	j := workflow.NewMemoryJournal()
	in := &workflow.Interpreter{Journal: j}
	if _, err := in.Run(context.Background(), workflow.Execution{ID: "full", Definition: sm, Input: items}); err != nil {
		b.Fatal(err)
	}
	full := j.History("full")
	half := full[:len(full)/2]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("resume-%d", i)
		rj := workflow.NewMemoryJournal()
		if err := rj.Append(context.Background(), id, half); err != nil {
			b.Fatal(err)
		}
		in := &workflow.Interpreter{Journal: rj}
		res, err := in.Run(context.Background(), workflow.Execution{ID: id, Definition: sm, History: half})
		if err != nil || res.Status != workflow.StatusSucceeded {
			b.Fatalf("%v %+v", err, res.Error)
		}
	}
}

const benchMapJSONata = `{"QueryLanguage": "JSONata", "StartAt": "Each", "States": {"Each": {
  "Type": "Map", "MaxConcurrency": 100, "Items": "{% $states.input %}",
  "ItemSelector": {"n": "{% $states.context.Map.Item.Value %}"},
  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Output": {"n": "{% $states.input.n * 2 %}"}, "End": true}}},
  "End": true}}}`

// BenchmarkMap10kJSONata is BenchmarkMap10k/memory with the Map and its
// Pass written in JSONata (an ItemSelector and an Output expression per
// item), for the cost of evaluating JSONata against the JSONPath
// templates:
//
//	go test ./internal/workflow -run '^$' -bench 'Map10k(JSONata)?$/memory|Map10kJSONata' -benchtime 3x -benchmem
func BenchmarkMap10kJSONata(b *testing.B) {
	sm := load(b, benchMapJSONata)
	items := make([]any, 10000)
	for i := range items {
		items[i] = json.Number(fmt.Sprint(i))
	}
	transitions := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("bench-%d", i)
		counter := &countingJournal{Journal: workflow.NewMemoryJournal()}
		in := &workflow.Interpreter{Journal: counter}
		res, err := in.Run(context.Background(), workflow.Execution{ID: id, StateMachineName: "bench", Definition: sm, Input: items})
		if err != nil || res.Status != workflow.StatusSucceeded {
			b.Fatalf("%v %+v", err, res.Error)
		}
		transitions += counter.entered
	}
	b.ReportMetric(float64(transitions)/b.Elapsed().Seconds(), "transitions/s")
}
