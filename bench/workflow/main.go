// Command workflow measures the durable workflow interpreter: a Map over
// N items (a Pass state inside, MaxConcurrency C) run to its end, in three
// ways, each in its own process so that its peak memory is its own:
//
//   - memory: the interpreter with the in-memory journal (no durability),
//     the interpreter's own cost;
//   - sqlite: `velocity workflow run --json` (in-process) with the SQLite
//     journal on, every event durable before it is acted on — what a user
//     gets;
//   - plain: a loop appending the same number of events, of the same size,
//     to the same SQLite journal in batches of C, without an interpreter —
//     what the storage alone costs.
//
// Usage, from anywhere in the module:
//
//	go run ./bench/workflow [-items 10000] [-concurrency 100] [-rounds 3]
//
// It prints state transitions per second (states entered: the Map and
// every iteration's Pass), events per second and peak RSS of each, the
// median of the rounds, with ratios to the sqlite run. The goal on a
// 2-core machine is at least 10,000 transitions/s and under 200 MB with
// the journal on; the command exits 1 when the sqlite run misses it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/velocity-ci/velocity/internal/cli"
	datahome "github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// Goals of the issue, with the journal on.
const (
	goalTransitions = 10000
	goalRSSMB       = 200
)

// result is what one measured process reports on stdout.
type result struct {
	Seconds     float64 `json:"seconds"`
	Transitions int     `json:"transitions"`
	Events      int     `json:"events"`
	RSSMB       float64 `json:"rssMB"`
}

func main() {
	items := flag.Int("items", 10000, "items of the Map")
	concurrency := flag.Int("concurrency", 100, "MaxConcurrency of the Map")
	rounds := flag.Int("rounds", 3, "rounds of each variant; medians are reported")
	variant := flag.String("variant", "", "(internal) run one variant and print its result")
	flag.Parse()
	if *variant != "" {
		r, err := measure(*variant, *items, *concurrency)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	fmt.Printf("Map over %d items, Pass inside, MaxConcurrency %d; %d rounds\n\n", *items, *concurrency, *rounds)
	variants := []string{"sqlite", "memory", "plain"}
	all := map[string][]result{}
	for range *rounds {
		// Alternate the variants so that a noisy neighbour spreads over all.
		for _, v := range variants {
			r, err := child(v, *items, *concurrency)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", v, err)
				os.Exit(1)
			}
			all[v] = append(all[v], r)
		}
	}
	med := map[string]result{}
	for _, v := range variants {
		med[v] = median(all[v])
	}
	base := med["sqlite"]
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\ttransitions\tevents\tseconds\ttransitions/s\tevents/s\tpeak RSS MB\tspeed vs sqlite\t")
	for _, v := range variants {
		r := med[v]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.0f\t%.0f\t%.1f\t%.2fx\t\n", v, r.Transitions, r.Events, r.Seconds,
			float64(r.Transitions)/r.Seconds, float64(r.Events)/r.Seconds, r.RSSMB, base.Seconds/r.Seconds)
	}
	tw.Flush()
	rate := float64(base.Transitions) / base.Seconds
	fmt.Printf("\nwith the SQLite journal: %.0f transitions/s (goal >= %d), peak RSS %.1f MB (goal < %d)\n", rate, goalTransitions, base.RSSMB, goalRSSMB)
	if rate < goalTransitions || base.RSSMB >= goalRSSMB {
		fmt.Println("goal missed")
		os.Exit(1)
	}
	fmt.Println("goal met")
}

// child runs one variant in a new process and adds its peak RSS.
func child(variant string, items, concurrency int) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(self, "-variant", variant, "-items", fmt.Sprint(items), "-concurrency", fmt.Sprint(concurrency))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%v\n%s", err, errb.String())
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return result{}, fmt.Errorf("%v: %s", err, out.String())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.RSSMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	return r, nil
}

func median(rs []result) result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b result) int {
		switch {
		case a.Seconds < b.Seconds:
			return -1
		case a.Seconds > b.Seconds:
			return 1
		}
		return 0
	})
	m := s[len(s)/2]
	rss := make([]float64, len(rs))
	for i, r := range rs {
		rss[i] = r.RSSMB
	}
	slices.Sort(rss)
	m.RSSMB = rss[len(rss)-1] // the worst peak, not the median
	return m
}

func definition(concurrency int) []byte {
	return fmt.Appendf(nil, `{"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": %d,
		"ItemProcessor": {"StartAt": "Step", "States": {"Step": {"Type": "Pass", "Parameters": {"item.$": "$", "done": true}, "End": true}}},
		"ResultSelector": {"count.$": "States.ArrayLength($)"}, "End": true}}}`, concurrency)
}

func input(items int) []byte {
	var b strings.Builder
	b.WriteString(`{"items": [`)
	for i := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, i)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// measure runs one variant in this process.
func measure(variant string, items, concurrency int) (result, error) {
	dir, err := os.MkdirTemp("", "velocity-bench-workflow")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	switch variant {
	case "memory":
		return inMemory(items, concurrency)
	case "sqlite":
		return withSQLite(dir, items, concurrency)
	case "plain":
		return plainLoop(dir, items, concurrency)
	}
	return result{}, fmt.Errorf("unknown variant %q", variant)
}

func count(types []string) (transitions int) {
	for _, t := range types {
		if strings.HasSuffix(t, "StateEntered") {
			transitions++
		}
	}
	return transitions
}

func inMemory(items, concurrency int) (result, error) {
	sm, err := asl.Load("bench.asl.json", definition(concurrency))
	if err != nil {
		return result{}, err
	}
	var in any
	d := json.NewDecoder(bytes.NewReader(input(items)))
	d.UseNumber()
	if err := d.Decode(&in); err != nil {
		return result{}, err
	}
	j := workflow.NewMemoryJournal()
	interp := &workflow.Interpreter{Journal: j}
	start := time.Now()
	res, err := interp.Run(context.Background(), workflow.Execution{ID: "1", Name: "bench", StateMachineName: "bench", Definition: sm, Input: in})
	secs := time.Since(start).Seconds()
	if err != nil {
		return result{}, err
	}
	if res.Status != workflow.StatusSucceeded {
		return result{}, fmt.Errorf("execution %s: %s: %s", res.Status, res.Error, res.Cause)
	}
	var types []string
	for _, e := range j.History("1") {
		types = append(types, string(e.Type))
	}
	return result{Seconds: secs, Transitions: count(types), Events: len(types)}, nil
}

func withSQLite(dir string, items, concurrency int) (result, error) {
	def := filepath.Join(dir, "bench.asl.json")
	in := filepath.Join(dir, "input.json")
	if err := os.WriteFile(def, definition(concurrency), 0o644); err != nil {
		return result{}, err
	}
	if err := os.WriteFile(in, input(items), 0o644); err != nil {
		return result{}, err
	}
	home := filepath.Join(dir, "home")
	var out, errb bytes.Buffer
	start := time.Now()
	code := cli.Main(context.Background(), cli.Options{Open: datahome.Open}, []string{"--data-dir", home, "workflow", "run", def, "--input", "@" + in, "--json", "--name", "bench"},
		strings.NewReader(""), &out, &errb)
	secs := time.Since(start).Seconds()
	if code != 0 || !strings.HasPrefix(out.String(), `{"status":"SUCCEEDED"`) {
		return result{}, fmt.Errorf("velocity workflow run: exit %d: %s%s", code, out.String(), errb.String())
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(home, "velocity.db"))
	if err != nil {
		return result{}, err
	}
	defer st.Close()
	es, err := st.Executions(context.Background(), store.ExecutionFilter{})
	if err != nil || len(es) != 1 {
		return result{}, fmt.Errorf("executions: %v %v", es, err)
	}
	events, err := st.Events(context.Background(), es[0].ID)
	if err != nil {
		return result{}, err
	}
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	return result{Seconds: secs, Transitions: count(types), Events: len(types)}, nil
}

// plainLoop appends as many events as the Map records (four per item,
// about the same size) in batches of concurrency, from one goroutine.
func plainLoop(dir string, items, concurrency int) (result, error) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		return result{}, err
	}
	defer st.Close()
	id, err := st.CreateExecution(ctx, store.Execution{ARN: "arn:bench", Name: "bench", StateMachine: "bench", Created: time.Now()})
	if err != nil {
		return result{}, err
	}
	kinds := []string{"MapIterationStarted", "PassStateEntered", "PassStateExited", "MapIterationSucceeded"}
	start := time.Now()
	n := int64(0)
	var batch []store.Event
	transitions := 0
	flush := func() error {
		err := st.AppendEvents(ctx, id, batch)
		batch = batch[:0]
		return err
	}
	for i := range items {
		for _, k := range kinds {
			n++
			ev := workflow.Event{ID: n, PreviousEventID: n - 1, Timestamp: time.Now(), Type: workflow.EventType(k), Scope: fmt.Sprintf("Each#1/%d", i),
				Details: fmt.Appendf(nil, `{"name":"Step","input":"{\"item\":%d,\"done\":true}","inputDetails":{"truncated":false}}`, i)}
			body, err := json.Marshal(ev)
			if err != nil {
				return result{}, err
			}
			batch = append(batch, store.Event{ID: n, Type: k, At: ev.Timestamp, Body: body})
			if strings.HasSuffix(k, "StateEntered") {
				transitions++
			}
		}
		if (i+1)%concurrency == 0 {
			if err := flush(); err != nil {
				return result{}, err
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return result{}, err
		}
	}
	return result{Seconds: time.Since(start).Seconds(), Transitions: transitions, Events: int(n)}, nil
}
