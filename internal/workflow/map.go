package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"

	"sync"
	"sync/atomic"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

type mapStartedDetails struct {
	Length int `json:"length"`
}

type mapIterationDetails struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
}

// maxUnlimited bounds the goroutines of a Map without MaxConcurrency.
const maxUnlimited = 1000

// mapState runs a Map state: its ItemProcessor once per item (or batch),
// at most MaxConcurrency at a time; the output is the array of results.
func (s *scope) mapState(ctx context.Context, v *visit) (any, string, error) {
	r := newRetries(v.st)
	for attempt := 0; ; attempt++ {
		out, f, inside, err := s.mapAttempt(ctx, v, attempt)
		if err != nil {
			return nil, "", err
		}
		if f == nil {
			return out, v.st.def.Next, nil
		}
		retry, err := s.retryAfter(ctx, v, r, f, inside, MapStateFailed, MapStateStarted)
		if err != nil {
			return nil, "", err
		}
		if !retry {
			return s.catchOrFail(v, f)
		}
	}
}

// mapConfig is a Map attempt's evaluated settings.
type mapConfig struct {
	concurrency    int
	toleratedCount int64 // -1: not set
	toleratedPct   float64
	hasTolerance   bool
}

func (s *scope) mapAttempt(ctx context.Context, v *visit, attempt int) (out any, f *asl.Failure, inside bool, err error) {
	ctxObj := s.context(v, attempt, "")
	fail := func(err error) (any, *asl.Failure, bool, error) { return nil, failureOf(err), false, stopOnly(err) }
	in, err := s.effectiveInput(v, ctxObj)
	if err != nil {
		return fail(err)
	}
	items, err := s.mapItems(ctx, v, in, ctxObj)
	if err != nil && ctx.Err() != nil {
		// Stopped while reading the items (from S3): not the reader's
		// failure; the execution stops or resumes as for any state.
		return nil, nil, false, &stopError{err: context.Cause(ctx)}
	}
	if err != nil {
		return fail(err)
	}
	cfg, err := s.mapSettings(v, in, ctxObj)
	if err != nil {
		return fail(err)
	}
	inputs, err := s.batches(v, in, ctxObj, items)
	if err != nil {
		return fail(err)
	}
	n := len(inputs)
	s.step(MapStateStarted, func() any { return mapStartedDetails{Length: n} }, nil)
	if err := s.flush(ctx); err != nil {
		return nil, nil, false, err
	}

	names, order := s.iterationOrder(v, attempt, n)
	results, res := s.runIterations(ctx, v, cfg, names, order, inputs)
	// The Map's next event links to the failed iteration's last state
	// event, or after a success to the last event of its iterations.
	if res.failure != nil {
		s.lastID, v.failedAt = res.failedSource, res.failedAt
	} else if res.last > s.lastID {
		s.lastID = res.last
	}
	switch {
	case res.stop != nil:
		return nil, nil, false, res.stop
	case ctx.Err() != nil:
		return nil, nil, false, &stopError{err: ctx.Err()}
	case res.exceeded:
		return nil, asl.Failf(asl.ErrExceedToleratedFailureThreshold, "The specified tolerated failure threshold was exceeded"), true, nil
	case res.failure != nil:
		return nil, res.failure, true, nil
	}
	s.step(MapStateSucceeded, nil, nil)
	var result any = results
	if v.st.resultWriter != nil {
		if result, err = s.writeResults(v, attempt, in, ctxObj, inputs, results, res.failed); err != nil {
			return fail(err)
		}
	}
	if out, err = s.outputOf(v, result, true, ctxObj); err != nil {
		return fail(err)
	}
	return out, nil, false, nil
}

// iterationOrder names the scopes of a Map attempt's iterations and
// orders them: those whose history says they ended are walked first, as
// they take no time and settle a failure before anything runs again.
func (s *scope) iterationOrder(v *visit, attempt, n int) (names []string, order []int) {
	names = make([]string, n)
	order = make([]int, 0, n)
	var rest []int
	for i := range n {
		names[i] = childName(s.name, v.st.name, v.number, attempt, i)
		if rec := s.run.recorded[names[i]]; len(rec) > 0 {
			switch rec[len(rec)-1].Type {
			case MapIterationSucceeded, MapIterationFailed, MapIterationAborted:
				order = append(order, i)
				continue
			}
		}
		rest = append(rest, i)
	}
	return names, append(order, rest...)
}

// iterationsEnd is how a Map attempt's iterations ended, short of their
// results: a failure that fails the Map (exceeded when it is the
// tolerated-failure threshold), or a stop.
type iterationsEnd struct {
	failure  *asl.Failure
	exceeded bool
	stop     error
	// failed marks the iterations that failed within the tolerance
	// (their result is their error output).
	failed []bool
	// failedSource is the event the failed iteration's next event would
	// have linked to (its last state event); last is the highest event ID
	// of the iterations.
	failedSource int64
	last         int64
	// failedAt is the time of the failed iteration's last event.
	failedAt time.Time
}

// runIterations runs the iterations in order on at most cfg.concurrency
// goroutines, stopping the rest when one fails beyond what is tolerated.
func (s *scope) runIterations(ctx context.Context, v *visit, cfg mapConfig, names []string, order []int, inputs []any) ([]any, iterationsEnd) {
	n := len(inputs)
	workers := cfg.concurrency
	if workers <= 0 || workers > maxUnlimited {
		workers = maxUnlimited
	}
	workers = min(workers, n)
	mctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]any, n)
	end := iterationsEnd{failed: make([]bool, n)}
	var (
		next   atomic.Int64
		mu     sync.Mutex
		failed int64
		wg     sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker's iterations link one after the other, as a
			// Map with MaxConcurrency 1 is recorded: an iteration's
			// MapIterationStarted links to the last state event of the
			// one before it.
			prev := s.lastID
			for {
				k := int(next.Add(1) - 1)
				if k >= n || mctx.Err() != nil {
					return
				}
				i := order[k]
				c := s.run.newScope(names[i], prev)
				if cfg := v.st.processor.config; cfg == nil || cfg.Mode != "DISTRIBUTED" {
					// Step Functions: a Distributed Map's child workflows
					// cannot read the variables of outer scopes.
					c.parent = s
				}
				out, f, err := s.iteration(ctx, mctx, v, c, i, inputs[i])
				prev = c.lastID
				mu.Lock()
				end.last = max(end.last, c.lastEvent)
				switch {
				case err != nil:
					if end.stop == nil {
						end.stop = err
					}
					cancel(err)
				case f == errAborted:
				case f != nil:
					failed++
					results[i] = errorOutput(f)
					end.failed[i] = true
					if !cfg.hasTolerance || exceedsTolerance(cfg, failed, n) {
						if end.failure == nil {
							end.failure, end.exceeded = f, cfg.hasTolerance
							end.failedSource, end.failedAt = c.lastID, c.lastTime
						}
						cancel(errSiblingFailed)
					}
				default:
					results[i] = out
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return results, end
}

func exceedsTolerance(cfg mapConfig, failed int64, total int) bool {
	if cfg.toleratedCount >= 0 && failed > cfg.toleratedCount {
		return true
	}
	if cfg.toleratedPct >= 0 && total > 0 && float64(failed)*100/float64(total) > cfg.toleratedPct {
		return true
	}
	return false
}

// errAborted marks an iteration stopped because a sibling failed.
var errAborted = &asl.Failure{Name: "aborted"}

// iteration runs item index of a Map in its own scope c. ctx is the Map
// state's context, mctx the one cancelled when the Map fails.
func (s *scope) iteration(ctx, mctx context.Context, v *visit, c *scope, index int, input any) (any, *asl.Failure, error) {
	if n := len(c.rec); n > 0 && c.rec[n-1].Type == MapIterationAborted {
		// The Map failed while this iteration ran; it stays aborted.
		return nil, errAborted, nil
	}
	details := func() any { return mapIterationDetails{Name: v.st.name, Index: index} }
	if _, ok := c.replay(MapIterationStarted); !ok {
		// A new iteration, or one a redrive runs again, whose recorded
		// events are the states it had finished before.
		c.emitRaw(MapIterationStarted, details(), nil)
	}
	out, err := c.runMachine(mctx, v.st.processor, input)
	var f *asl.Failure
	switch {
	case err == nil:
		c.step(MapIterationSucceeded, details, nil)
	case isStop(err):
		if ctx.Err() != nil || !(errors.Is(context.Cause(mctx), errSiblingFailed) || errors.Is(err, errSiblingFailed)) {
			return nil, nil, err
		}
		if _, ok := c.replay(MapIterationAborted); !ok {
			c.emit(MapIterationAborted, details(), nil)
		}
		if ferr := c.flush(ctx); ferr != nil {
			return nil, nil, ferr
		}
		return nil, errAborted, nil
	case errors.As(err, &f):
		c.step(MapIterationFailed, details, nil)
	default:
		return nil, nil, &stopError{err: err}
	}
	if ferr := c.flush(ctx); ferr != nil {
		return nil, nil, ferr
	}
	if f != nil {
		return nil, f, nil
	}
	return out, nil, nil
}

// mapItems finds a Map's items: read by the ItemReader, or selected by
// ItemsPath (default $) from the effective input.
func (s *scope) mapItems(ctx context.Context, v *visit, in, ctxObj any) ([]any, error) {
	st := v.st
	var val any
	switch {
	case st.def.ItemReader != nil:
		return s.readItems(ctx, v, in, ctxObj)
	case st.jsonata && st.jitems != nil:
		var err error
		if val, err = s.jeval(v, "Items", st.jitems, ctxObj, jstates{input: v.input}); err != nil {
			return nil, err
		}
	case st.jsonata:
		val = v.input
	case st.items != nil:
		var err error
		if val, err = st.items.Eval(in, ctxObj); err != nil {
			return nil, s.stateFailure(v, err)
		}
	case st.itemsPath != nil:
		var err error
		if val, err = st.itemsPath.Get(in, ctxObj); err != nil {
			return nil, s.pathFailure(v, "ItemsPath", st.itemsPath, in, err)
		}
	default:
		val = in
	}
	if o, isObject := val.(*jsonvalue.Object); isObject && !st.jsonata {
		return objectItems(o), nil
	}
	items, ok := val.([]any)
	if !ok && st.jitems != nil && st.jitems.expr != nil {
		return nil, s.typeFailure(v, "Items", st.jitems, "array", val)
	}
	if !ok {
		path := "$"
		if st.itemsPath != nil {
			path = st.itemsPath.String()
		}
		want := "a JSON array or object"
		if st.jsonata {
			want = "a JSON array"
		}
		return nil, asl.Failf(asl.ErrRuntime,
			"An error occurred while executing the state '%s' (entered at the event id #%d). Items at path '%s' is not %s: %s",
			st.name, s.enteredID(v), path, want, jsonString(val))
	}
	return items, nil
}

// objectItems are the items of a JSONPath Map over an object: Step
// Functions runs one iteration per key-value pair ("ItemsPath (Map,
// JSONPath only)" in its developer guide, which does not show the pair),
// each {"key": name, "value": value} here, in the object's member order.
func objectItems(o *jsonvalue.Object) []any {
	items := make([]any, 0, o.Len())
	for k, val := range o.All() {
		pair := jsonvalue.NewObject(2)
		pair.Set("key", k)
		pair.Set("value", val)
		items = append(items, pair)
	}
	return items
}

// mapSettings evaluates MaxConcurrency and the tolerated failures.
func (s *scope) mapSettings(v *visit, in, ctxObj any) (mapConfig, error) {
	st := v.st
	cfg := mapConfig{toleratedCount: -1, toleratedPct: -1}
	if st.jsonata {
		// JSONata writes the three settings as expressions instead of
		// …Path fields.
		if n, ok, err := s.jnumber(v, "MaxConcurrency", ctxObj, in, 0, math.MaxInt32, true); err != nil {
			return cfg, err
		} else if ok {
			cfg.concurrency = int(n)
		}
		if n, ok, err := s.jnumber(v, "ToleratedFailureCount", ctxObj, in, 0, math.MaxInt32, true); err != nil {
			return cfg, err
		} else if ok {
			cfg.toleratedCount = int64(n)
		}
		if n, ok, err := s.jnumber(v, "ToleratedFailurePercentage", ctxObj, in, 0, 100, false); err != nil {
			return cfg, err
		} else if ok {
			cfg.toleratedPct = n
		}
	}
	if st.def.MaxConcurrency != nil {
		cfg.concurrency = int(*st.def.MaxConcurrency)
	} else if st.maxConcurrencyPath != nil {
		val, err := s.getPath(v, st.maxConcurrencyPath, in, ctxObj)
		if err != nil {
			return cfg, err
		}
		n, ok := positiveInt(val)
		if !ok {
			return cfg, s.invalidValue(v, "MaxConcurrencyPath", val)
		}
		cfg.concurrency = int(n)
	}
	if st.def.ToleratedFailureCount != nil {
		cfg.toleratedCount = *st.def.ToleratedFailureCount
	} else if st.toleratedCountPath != nil {
		val, err := s.getPath(v, st.toleratedCountPath, in, ctxObj)
		if err != nil {
			return cfg, err
		}
		n, ok := positiveInt(val)
		if !ok {
			return cfg, s.invalidValue(v, "ToleratedFailureCountPath", val)
		}
		cfg.toleratedCount = n
	}
	if st.def.ToleratedFailurePercentage != nil {
		cfg.toleratedPct = *st.def.ToleratedFailurePercentage
	} else if st.toleratedPctPath != nil {
		val, err := s.getPath(v, st.toleratedPctPath, in, ctxObj)
		if err != nil {
			return cfg, err
		}
		num, ok := val.(json.Number)
		f, ferr := num.Float64()
		if !ok || ferr != nil || f < 0 || f > 100 {
			return cfg, s.invalidValue(v, "ToleratedFailurePercentagePath", val)
		}
		cfg.toleratedPct = f
	}
	if pc := st.processor.config; pc != nil && strings.EqualFold(pc.Mode, "DISTRIBUTED") && cfg.toleratedCount < 0 && cfg.toleratedPct < 0 {
		// A Distributed Map's tolerated failure percentage defaults to 0:
		// one failed child fails the Map Run with
		// States.ExceedToleratedFailureThreshold.
		cfg.toleratedPct = 0
	}
	cfg.hasTolerance = cfg.toleratedCount >= 0 || cfg.toleratedPct >= 0
	return cfg, nil
}

func (s *scope) invalidValue(v *visit, field string, val any) error {
	return asl.Failf(asl.ErrRuntime,
		"An error occurred while executing the state '%s' (entered at the event id #%d). The %s field does not reference a valid value: %s",
		v.st.name, s.enteredID(v), field, jsonString(val))
}

// Bounds of the ItemReader's and ItemBatcher's sizes, as the validator
// checks them when they are numbers: AWS reads at most 100,000,000
// items and caps a batch at 256 KiB.
const (
	maxCount      = 100000000
	maxBatchBytes = 262144
)

// batches applies ItemSelector to each item and, with an ItemBatcher,
// groups the results into {"Items": [...], "BatchInput": ...} inputs.
func (s *scope) batches(v *visit, in, ctxObj any, items []any) ([]any, error) {
	st := v.st
	selected := items
	if st.jsonata && st.jitemSelector != nil {
		selected = make([]any, len(items))
		env := ctxObj.(*jsonpath.Env)
		base := env.Context.(*jsonvalue.Object)
		for i, item := range items {
			c := base.Clone()
			c.Set("Map", object("Item", object("Index", jsonInt(int64(i)), "Value", item)))
			out, err := s.jeval(v, "ItemSelector", st.jitemSelector, &jsonpath.Env{Context: c, Vars: env.Vars}, jstates{input: v.input})
			if err != nil {
				return nil, err
			}
			selected[i] = out
		}
	} else if st.itemSelector != nil {
		selected = make([]any, len(items))
		env := ctxObj.(*jsonpath.Env)
		base := env.Context.(*jsonvalue.Object)
		for i, item := range items {
			c := base.Clone()
			c.Set("Map", object("Item", object("Index", jsonInt(int64(i)), "Value", item)))
			out, err := st.itemSelector.Eval(in, &jsonpath.Env{Context: c, Vars: env.Vars})
			if err != nil {
				return nil, s.stateFailure(v, err)
			}
			selected[i] = out
		}
	}
	b := st.def.ItemBatcher
	if b == nil {
		return selected, nil
	}
	maxItems, maxBytes := int64(0), int64(0)
	if b.MaxItemsPerBatch != nil {
		maxItems = *b.MaxItemsPerBatch
	} else if n, ok, err := s.jnumber(v, "ItemBatcher/MaxItemsPerBatch", ctxObj, in, 1, maxCount, true); err != nil {
		return nil, err
	} else if ok {
		maxItems = int64(n)
	} else if st.batchMaxItemsPath != nil {
		val, err := s.getPath(v, st.batchMaxItemsPath, in, ctxObj)
		if err != nil {
			return nil, err
		}
		n, ok := positiveInt(val)
		if !ok {
			return nil, s.invalidValue(v, "MaxItemsPerBatchPath", val)
		}
		maxItems = n
	}
	if b.MaxInputBytesPerBatch != nil {
		maxBytes = *b.MaxInputBytesPerBatch
	} else if n, ok, err := s.jnumber(v, "ItemBatcher/MaxInputBytesPerBatch", ctxObj, in, 1, maxBatchBytes, true); err != nil {
		return nil, err
	} else if ok {
		maxBytes = int64(n)
	} else if st.batchMaxBytesPath != nil {
		val, err := s.getPath(v, st.batchMaxBytesPath, in, ctxObj)
		if err != nil {
			return nil, err
		}
		n, ok := positiveInt(val)
		if !ok {
			return nil, s.invalidValue(v, "MaxInputBytesPerBatchPath", val)
		}
		maxBytes = n
	}
	var batchInput any
	hasBatchInput := st.batchInput != nil || st.jbatchInput != nil
	if st.jbatchInput != nil {
		var err error
		if batchInput, err = s.jeval(v, "ItemBatcher/BatchInput", st.jbatchInput, ctxObj, jstates{input: v.input}); err != nil {
			return nil, err
		}
	} else if st.batchInput != nil {
		var err error
		if batchInput, err = st.batchInput.Eval(in, ctxObj); err != nil {
			return nil, s.stateFailure(v, err)
		}
	}
	// BatchInput comes first, as in the batches Step Functions hands out.
	wrap := func(group []any) any {
		m := jsonvalue.NewObject(2)
		if hasBatchInput {
			m.Set("BatchInput", batchInput)
		}
		m.Set("Items", group)
		return m
	}
	var out []any
	var group []any
	size := int64(0)
	for _, item := range selected {
		itemSize := int64(len(jsonString(item))) + 1
		if len(group) > 0 && ((maxItems > 0 && int64(len(group)) >= maxItems) || (maxBytes > 0 && size+itemSize > maxBytes)) {
			out = append(out, wrap(group))
			group, size = nil, 0
		}
		if maxBytes > 0 && itemSize > maxBytes {
			return nil, asl.Failf(asl.ErrRuntime,
				"An error occurred while executing the state '%s' (entered at the event id #%d). An item of %d bytes is larger than MaxInputBytesPerBatch (%d)",
				st.name, s.enteredID(v), itemSize, maxBytes)
		}
		group = append(group, item)
		size += itemSize
	}
	if len(group) > 0 {
		out = append(out, wrap(group))
	}
	return out, nil
}
