package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/reaper"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/integration"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
	"github.com/velocity-ci/velocity/internal/workflow/task"
)

// The account and region of the ARNs Velocity gives executions: the AWS
// forms, so that definitions and tools that parse ARNs work unchanged.
const (
	arnRegion  = "us-east-1"
	arnAccount = "123456789012"
)

func stateMachineARN(name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", arnRegion, arnAccount, name)
}

func executionARN(stateMachine, name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", arnRegion, arnAccount, stateMachine, name)
}

// workflowOptions is what running an execution again needs besides its
// definition and input (store.Execution.Options): kept so that a restart
// after a crash, a redrive or an adopted child runs it the same way.
type workflowOptions struct {
	// Dir is where relative commands run and child definitions are
	// found: the directory of the definition file.
	Dir      string `json:"dir"`
	File     string `json:"file"`
	Bindings string `json:"bindings,omitempty"`
	Mocks    string `json:"mocks,omitempty"`
	TestCase string `json:"testCase,omitempty"`
	// AWSEndpoint is where AWS service integrations go: a URL, "aws"
	// for AWS's own endpoints, empty for none.
	AWSEndpoint string `json:"awsEndpoint,omitempty"`
}

// workflowRuntime runs executions in this process: it waits for their
// concurrency slot, holds their lock while it runs them, journals their
// history in the store and runs the children their tasks start.
type workflowRuntime struct {
	h      *home
	log    *slog.Logger
	reaper *lazyReaper
	// poll is how often waiting loops (a concurrency slot, a child, a
	// stop request) look at the store.
	poll time.Duration
	// ctx bounds executions this process runs on its own (children,
	// adopted executions); abandon cancels it, which shuts them down
	// resumable.
	ctx     context.Context
	abandon context.CancelFunc
	// limits bound the trees of executions that tasks start.
	limits store.TreeLimits
	// notify prints progress for a person; nil in --json mode.
	notify func(format string, args ...any)
	// observe, when set, sees every batch of events journaled by an
	// execution this process runs (workflow actions stream them into
	// their log); it must not block.
	observe func(executionID string, events []workflow.Event)

	mu     sync.Mutex
	active map[int64]bool // executions running in this process
	bg     sync.WaitGroup
}

func (a *app) newWorkflowRuntime(ctx context.Context, h *home) (*workflowRuntime, error) {
	ctx, abandon := context.WithCancel(ctx)
	return &workflowRuntime{
		h: h, log: a.log, reaper: &lazyReaper{log: a.log}, poll: 100 * time.Millisecond, ctx: ctx, abandon: abandon,
		active: map[int64]bool{},
	}, nil
}

// close waits for executions still running in the background (children
// started without .sync), then stops the reaper.
func (rt *workflowRuntime) close() {
	rt.bg.Wait()
	rt.abandon()
	rt.reaper.close()
}

// lazyReaper starts the crash watchdog with the first command a task
// runs, so that commands that run none (list, describe) start no process.
type lazyReaper struct {
	log  *slog.Logger
	once sync.Once
	mu   sync.Mutex
	r    *reaper.Reaper
}

func (l *lazyReaper) get() *reaper.Reaper {
	l.once.Do(func() {
		r, err := reaper.Start()
		if err != nil {
			// The command still runs; only clean-up after a crash of
			// Velocity is lost.
			l.log.Warn("no crash watchdog for task commands", "err", err)
			return
		}
		l.mu.Lock()
		l.r = r
		l.mu.Unlock()
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r
}

// Add implements task.Reaper.
func (l *lazyReaper) Add(pgid int) {
	if r := l.get(); r != nil {
		r.Add(pgid)
	}
}

// Remove implements task.Reaper.
func (l *lazyReaper) Remove(pgid int) {
	if r := l.get(); r != nil {
		r.Remove(pgid)
	}
}

// AddMarker implements task.Reaper.
func (l *lazyReaper) AddMarker(entry string) error {
	if r := l.get(); r != nil {
		return r.AddMarker(entry)
	}
	return nil
}

// RemoveMarker implements task.Reaper.
func (l *lazyReaper) RemoveMarker(entry string) {
	if r := l.get(); r != nil {
		r.RemoveMarker(entry)
	}
}

func (l *lazyReaper) close() {
	l.mu.Lock()
	r := l.r
	l.mu.Unlock()
	if r != nil {
		r.Close()
	}
}

// sqliteJournal is the interpreter's Journal on the store: each event is
// kept whole as JSON, with its type and time beside it for queries.
type sqliteJournal struct{ st store.Workflows }

func (j sqliteJournal) Append(ctx context.Context, executionID string, events []workflow.Event) error {
	id, err := strconv.ParseInt(executionID, 10, 64)
	if err != nil {
		return fmt.Errorf("journal: execution ID %q: %w", executionID, err)
	}
	out := make([]store.Event, len(events))
	for i, e := range events {
		body, err := marshalJSON(e)
		if err != nil {
			return fmt.Errorf("journal: event %d: %w", e.ID, err)
		}
		out[i] = store.Event{ID: e.ID, Type: string(e.Type), At: e.Timestamp, Body: body}
	}
	return j.st.AppendEvents(ctx, id, out)
}

// observedJournal is sqliteJournal telling observe of each batch it
// recorded, for the runtime's observe.
type observedJournal struct {
	sqliteJournal
	observe func(executionID string, events []workflow.Event)
}

func (j observedJournal) Append(ctx context.Context, executionID string, events []workflow.Event) error {
	if err := j.sqliteJournal.Append(ctx, executionID, events); err != nil {
		return err
	}
	j.observe(executionID, events)
	return nil
}

// journal is the interpreter's Journal of this runtime's executions.
func (rt *workflowRuntime) journal() workflow.Journal {
	j := sqliteJournal{rt.h.store}
	if rt.observe == nil {
		return j
	}
	return observedJournal{j, rt.observe}
}

// history reads an execution's recorded events.
func history(ctx context.Context, st store.Workflows, id int64) ([]workflow.Event, error) {
	rows, err := st.Events(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]workflow.Event, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Body, &out[i]); err != nil {
			return nil, fmt.Errorf("history of execution %d: event %d: %w", id, r.ID, err)
		}
	}
	return out, nil
}

func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// lockFor creates and takes a new execution lock.
func (rt *workflowRuntime) lockFor() (*lockfile.Lock, string, error) {
	path := rt.h.lockPath("wf-" + newToken())
	l, err := lockfile.Acquire(path)
	return l, path, err
}

// newExecution is what starting an execution needs.
type newExecution struct {
	name, stateMachine string
	definition, input  []byte
	key                string
	limit              int
	parent             string
	// startedBy names the task that starts a child, for errors.
	startedBy string
	opts      workflowOptions
}

// create records a new execution PENDING, owned by this process.
func (rt *workflowRuntime) create(ctx context.Context, n newExecution) (store.Execution, *lockfile.Lock, error) {
	lock, path, err := rt.lockFor()
	if err != nil {
		return store.Execution{}, nil, err
	}
	opts, err := json.Marshal(n.opts)
	if err != nil {
		lock.Release()
		return store.Execution{}, nil, err
	}
	e := store.Execution{
		ARN: executionARN(n.stateMachine, n.name), Name: n.name, StateMachine: n.stateMachine,
		Definition: n.definition, Input: n.input, ConcurrencyKey: n.key, ConcurrencyLimit: n.limit,
		Parent: n.parent, Lock: path, Options: opts, Created: time.Now(),
	}
	var id int64
	if n.parent == "" {
		id, err = rt.h.store.CreateExecution(ctx, e)
	} else {
		id, err = rt.h.store.CreateChild(ctx, e, rt.limits)
	}
	if err != nil {
		lock.Release()
		var le *store.TreeLimitError
		if errors.As(err, &le) {
			// The error Step Functions gives a StartExecution over a
			// quota: a Retry or Catch of the task can handle it.
			return e, nil, &asl.Failure{Name: "StepFunctions.ExecutionLimitExceeded",
				Cause: fmt.Sprintf("%s cannot start an execution of state machine %s: %v", n.startedBy, n.stateMachine, le)}
		}
		if errors.Is(err, store.ErrExists) {
			return e, nil, &asl.Failure{Name: "StepFunctions.ExecutionAlreadyExistsException",
				Cause: fmt.Sprintf("an execution named %s of state machine %s exists already; choose another --name", n.name, n.stateMachine)}
		}
		return e, nil, err
	}
	e, err = rt.h.store.Execution(ctx, id)
	if err != nil {
		lock.Release()
	}
	return e, lock, err
}

// adopt takes over an execution whose owner is gone: it reports false
// when another process (or this one) runs it, or it has ended.
func (rt *workflowRuntime) adopt(ctx context.Context, e store.Execution) (*lockfile.Lock, bool) {
	rt.mu.Lock()
	here := rt.active[e.ID]
	rt.mu.Unlock()
	if here || e.Lock == "" {
		return nil, false
	}
	l, err := lockfile.Acquire(e.Lock)
	if err != nil {
		return nil, false
	}
	// It may have ended between the listing and the lock.
	now, err := rt.h.store.Execution(ctx, e.ID)
	if err != nil || now.Status.Final() {
		l.Release()
		return nil, false
	}
	return l, true
}

// orphans lists live executions whose owner process is gone.
func (rt *workflowRuntime) orphans(ctx context.Context) ([]store.Execution, error) {
	live, err := rt.h.store.LiveExecutions(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Execution
	for _, e := range live {
		rt.mu.Lock()
		here := rt.active[e.ID]
		rt.mu.Unlock()
		if here {
			continue
		}
		if held, err := lockfile.Held(e.Lock); err == nil && !held {
			out = append(out, e)
		}
	}
	return out, nil
}

// execute runs an execution this process holds the lock of until it ends
// (or ctx is cancelled: then it stays resumable) and records its end.
func (rt *workflowRuntime) execute(ctx context.Context, e store.Execution, lock *lockfile.Lock) (workflow.Result, error) {
	rt.mu.Lock()
	rt.active[e.ID] = true
	rt.mu.Unlock()
	defer func() {
		rt.mu.Lock()
		delete(rt.active, e.ID)
		rt.mu.Unlock()
		lock.Release()
	}()

	var opts workflowOptions
	if err := json.Unmarshal(e.Options, &opts); err != nil {
		return workflow.Result{}, fmt.Errorf("execution %d: options: %w", e.ID, err)
	}
	sm, err := asl.Load(opts.File, e.Definition)
	if err != nil {
		return rt.finish(ctx, e, workflow.Result{Status: workflow.StatusFailed, Error: asl.ErrRuntime,
			Cause: fmt.Sprintf("the definition does not load: %v", err), StopTime: time.Now()})
	}
	res, aborted, err := rt.waitForSlot(ctx, e)
	if err != nil || aborted {
		return res, err
	}
	e, err = rt.h.store.Execution(ctx, e.ID)
	if err != nil {
		return workflow.Result{}, err
	}
	resources, err := rt.resources(e, opts)
	if err != nil {
		return rt.finish(ctx, e, workflow.Result{Status: workflow.StatusFailed, Error: asl.ErrRuntime, Cause: err.Error(), StopTime: time.Now()})
	}
	events, err := history(ctx, rt.h.store, e.ID)
	if err != nil {
		return workflow.Result{}, err
	}
	input, err := decodeJSON(e.Input)
	if err != nil {
		return workflow.Result{}, fmt.Errorf("execution %d: input: %w", e.ID, err)
	}
	redriven := 0
	for _, ev := range events {
		if ev.Type == workflow.ExecutionRedriven {
			redriven++
		}
	}
	in := &workflow.Interpreter{
		Journal: rt.journal(), Invoker: resources, Logger: rt.log, BaseDir: opts.Dir,
		Region: arnRegion, Account: arnAccount,
	}
	if o, ok := resources.AWS.(workflow.Objects); ok {
		in.Objects = o
	}
	if !e.StopRequested {
		if e, err = rt.stopIfParentStopped(ctx, e); err != nil {
			return workflow.Result{}, err
		}
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if e.StopRequested {
		// Stopped while nobody ran it: journal the abort at once rather
		// than run its in-flight tasks again first.
		cancel(&workflow.Abort{Name: e.StopError, Cause: e.StopCause})
	} else {
		go rt.watchStop(runCtx, e.ID, cancel)
	}
	res, err = in.Run(runCtx, workflow.Execution{
		ID: strconv.FormatInt(e.ID, 10), Name: e.Name, StateMachineName: e.StateMachine,
		ARN: e.ARN, StateMachineARN: stateMachineARN(e.StateMachine),
		Definition: sm, Input: input, History: events,
		// A redrive recorded in the store but not yet in the history
		// (the process died in between) is still to be done.
		Redrive: e.RedriveCount > redriven,
	})
	if errors.Is(err, workflow.ErrInputTooLarge) {
		// Left live, it would be resumed, and refused, for ever.
		return rt.finish(ctx, e, workflow.Result{Status: workflow.StatusFailed, Error: asl.ErrDataLimitExceeded, Cause: err.Error(), StopTime: time.Now()})
	}
	if err != nil {
		return res, fmt.Errorf("execution %s: %w", e.Name, err)
	}
	return rt.finish(ctx, e, res)
}

// stopIfParentStopped records the stop of an execution whose parent was
// stopped or aborted before it runs a state: one resumed after its
// parent's process died must not carry on alone (children started after
// the stop inherit it when they are created; this catches the older
// ones). It returns the execution as it is recorded now.
func (rt *workflowRuntime) stopIfParentStopped(ctx context.Context, e store.Execution) (store.Execution, error) {
	if e.Parent == "" {
		return e, nil
	}
	p, err := rt.h.store.ExecutionByARN(ctx, e.Parent)
	if err != nil || !(p.StopRequested || p.Status == store.ExecutionAborted) {
		// A parent that is gone from the journal stops nothing.
		return e, nil
	}
	name, cause := p.StopError, p.StopCause
	if !p.StopRequested {
		name, cause = p.Error, "it was aborted"
	}
	if _, err := rt.h.store.RequestStop(ctx, e.ID, name, fmt.Sprintf("stopped with execution %s: %s", p.ARN, cause)); err != nil {
		return e, err
	}
	return rt.h.store.Execution(ctx, e.ID)
}

// finish records how an execution ended.
func (rt *workflowRuntime) finish(ctx context.Context, e store.Execution, res workflow.Result) (workflow.Result, error) {
	var out []byte
	if res.Status == workflow.StatusSucceeded {
		var err error
		if out, err = marshalJSON(res.Output); err != nil {
			return res, err
		}
	}
	at := res.StopTime
	if at.IsZero() {
		at = time.Now()
	}
	err := rt.h.store.FinishExecution(context.WithoutCancel(ctx), e.ID, store.ExecutionStatus(res.Status), out, res.Error, res.Cause, at)
	return res, err
}

// waitForSlot claims the execution's concurrency slot, waiting in its
// key's queue. A stop requested meanwhile aborts it without running.
func (rt *workflowRuntime) waitForSlot(ctx context.Context, e store.Execution) (workflow.Result, bool, error) {
	told := false
	lastSweep := time.Now()
	for {
		ok, err := rt.h.store.ClaimExecution(ctx, e.ID, time.Now())
		if err != nil {
			return workflow.Result{}, false, err
		}
		if ok {
			return workflow.Result{}, false, nil
		}
		now, err := rt.h.store.Execution(ctx, e.ID)
		if err != nil {
			return workflow.Result{}, false, err
		}
		if now.StopRequested {
			// Run it stopped: the interpreter journals ExecutionStarted and
			// ExecutionAborted without running a state.
			return workflow.Result{}, false, nil
		}
		if !told && rt.notify != nil {
			rt.notify("velocity: execution %s waits for concurrency key %q (at most %d at a time)\n", e.Name, e.ConcurrencyKey, e.ConcurrencyLimit)
			told = true
		}
		// An execution ahead in the queue may belong to a process that
		// died while we waited: have it resumed, or we wait forever.
		if time.Since(lastSweep) > 2*time.Second {
			lastSweep = time.Now()
			rt.resumeInBackground(ctx)
		}
		select {
		case <-ctx.Done():
			return workflow.Result{}, false, ctx.Err()
		case <-time.After(rt.poll):
		}
	}
}

// watchStop turns a stop requested by `velocity workflow stop` (from any
// process) into the interpreter's abort.
func (rt *workflowRuntime) watchStop(ctx context.Context, id int64, cancel context.CancelCauseFunc) {
	t := time.NewTicker(2 * rt.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e, err := rt.h.store.Execution(ctx, id)
		if err == nil && e.StopRequested {
			cancel(&workflow.Abort{Name: e.StopError, Cause: e.StopCause})
			return
		}
	}
}

// resources is the task invoker of one execution.
func (rt *workflowRuntime) resources(e store.Execution, opts workflowOptions) (*task.Resources, error) {
	// The watchdog runs before any task command starts: started by the
	// first command, its own start-up would widen the moment between a
	// command's start and its registration, in which a kill -9 of
	// velocity leaves the command behind.
	rt.reaper.get()
	r := &task.Resources{
		Dir: opts.Dir, Tokens: rt.h.store, ExecutionID: e.ID, Reaper: rt.reaper, PollInterval: rt.poll,
		Children: &children{rt: rt, parent: e, opts: opts},
	}
	if opts.Bindings != "" {
		b, err := task.LoadBindings(opts.Bindings)
		if err != nil {
			return nil, err
		}
		r.Bindings = b
	}
	if opts.Mocks != "" {
		m, err := task.LoadMocks(opts.Mocks)
		if err != nil {
			return nil, err
		}
		r.Mocks = m.Case(e.StateMachine, opts.TestCase)
	}
	if opts.AWSEndpoint != "" {
		endpoint := opts.AWSEndpoint
		if endpoint == "aws" {
			endpoint = ""
		}
		c, err := integration.New(rt.ctx, integration.Config{Endpoint: endpoint})
		if err != nil {
			return nil, err
		}
		r.AWS = c
	}
	return r, nil
}

// children starts the child executions of one parent execution; they
// inherit its bindings and mocks.
type children struct {
	rt     *workflowRuntime
	parent store.Execution
	opts   workflowOptions
}

var _ task.Children = (*children)(nil)

// StartChild implements task.Children.
func (c *children) StartChild(ctx context.Context, req task.ChildRequest) (task.ChildExecution, error) {
	rt := c.rt
	if len(req.Input) > workflow.MaxPayloadBytes {
		return task.ChildExecution{}, asl.Failf(asl.ErrDataLimitExceeded,
			"state %s: the input of the execution of %s is %d bytes of JSON, more than the %d bytes (256 KiB, MaxPayloadBytes) Step Functions accepts",
			req.StateName, req.StateMachineName, len(req.Input), workflow.MaxPayloadBytes)
	}
	name := req.Name
	if name == "" {
		name = newToken()
	}
	if err := checkName(name); err != nil {
		return task.ChildExecution{}, asl.Failf("StepFunctions.InvalidNameException", "execution name %q: %v", name, err)
	}
	arn := executionARN(req.StateMachineName, name)
	if e, err := rt.h.store.ExecutionByARN(ctx, arn); err == nil {
		if e.Parent != req.ParentARN {
			return task.ChildExecution{}, &asl.Failure{Name: "StepFunctions.ExecutionAlreadyExistsException",
				Cause: fmt.Sprintf("Execution Already Exists: '%s'", arn)}
		}
		// Started by this task before a restart: carry on with it.
		if lock, ok := rt.adopt(ctx, e); ok {
			rt.runInBackground(e, lock)
		}
		return describeChild(e), nil
	}
	src, err := asl.ReadFile(req.DefinitionFile)
	var tooLarge asl.Errors
	if err != nil && !errors.As(err, &tooLarge) {
		return task.ChildExecution{}, asl.Failf("StepFunctions.StateMachineDoesNotExistException", "state machine %s: %v", req.StateMachineARN, err)
	}
	if err == nil {
		_, err = asl.Load(req.DefinitionFile, src)
	}
	if err != nil {
		return task.ChildExecution{}, asl.Failf("StepFunctions.InvalidDefinitionException", "state machine %s: %v", req.StateMachineARN, err)
	}
	opts := c.opts
	opts.File = req.DefinitionFile
	opts.Dir = filepath.Dir(req.DefinitionFile)
	e, lock, err := rt.create(ctx, newExecution{
		name: name, stateMachine: req.StateMachineName, definition: src, input: req.Input,
		key: req.ConcurrencyKey, limit: req.ConcurrencyLimit, parent: req.ParentARN, opts: opts,
		startedBy: fmt.Sprintf("%s: state %s", statePosition(c.opts.File, c.parent.Definition, req.StateName), req.StateName),
	})
	if err != nil {
		return task.ChildExecution{}, err
	}
	rt.runInBackground(e, lock)
	return describeChild(e), nil
}

// statePosition is FILE:LINE:COL of a state's name in its definition,
// for errors about what the state does at run time; the loaded state
// machine keeps no positions, and state names are unique in a whole
// definition (States Language), so the first key with the name is it.
// Without a match it is the file alone.
func statePosition(file string, src []byte, name string) string {
	quoted, _ := json.Marshal(name)
	re := regexp.MustCompile(`(?m)(` + regexp.QuoteMeta(string(quoted)) + `\s*:|^\s*` + regexp.QuoteMeta(name) + `\s*:)`)
	loc := re.FindIndex(src)
	if loc == nil {
		return file
	}
	start := loc[0]
	if src[start] != '"' {
		// The YAML form matched from the line's start: skip the indent.
		start += len(src[start:]) - len(bytes.TrimLeft(src[start:], " \t"))
	}
	line := 1 + bytes.Count(src[:start], []byte("\n"))
	col := 1 + start - (bytes.LastIndexByte(src[:start], '\n') + 1)
	return fmt.Sprintf("%s:%d:%d", file, line, col)
}

// runInBackground runs an execution this process holds the lock of in
// its own goroutine, bounded by the runtime's context.
func (rt *workflowRuntime) runInBackground(e store.Execution, lock *lockfile.Lock) {
	rt.bg.Add(1)
	// Register at once, so that a WaitChild right after sees it running here.
	rt.mu.Lock()
	rt.active[e.ID] = true
	rt.mu.Unlock()
	go func() {
		defer rt.bg.Done()
		if _, err := rt.execute(rt.ctx, e, lock); err != nil && rt.ctx.Err() == nil {
			rt.log.Error("workflow execution stopped", "execution", e.ARN, "err", err)
		}
	}()
}

// WaitChild implements task.Children.
func (c *children) WaitChild(ctx context.Context, arn string) (task.ChildExecution, error) {
	rt := c.rt
	for {
		e, err := rt.h.store.ExecutionByARN(ctx, arn)
		if err != nil {
			return task.ChildExecution{}, err
		}
		if e.Status.Final() {
			return describeChild(e), nil
		}
		// Its owner died while we waited: run it here.
		if held, err := lockfile.Held(e.Lock); err == nil && !held {
			if lock, ok := rt.adopt(ctx, e); ok {
				rt.runInBackground(e, lock)
			}
		}
		select {
		case <-ctx.Done():
			return task.ChildExecution{}, ctx.Err()
		case <-time.After(rt.poll):
		}
	}
}

func describeChild(e store.Execution) task.ChildExecution {
	return task.ChildExecution{
		ARN: e.ARN, Name: e.Name, StateMachineARN: stateMachineARN(e.StateMachine), Status: string(e.Status),
		Input: e.Input, Output: e.Output, Error: e.Error, Cause: e.Cause, Start: e.Created, Stop: e.Stopped,
	}
}

// resumeAll runs every orphaned execution here until they end, for
// `velocity workflow resume`; it returns how many it took over.
func (rt *workflowRuntime) resumeAll(ctx context.Context, out io.Writer) (int, error) {
	orphans, err := rt.orphans(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range orphans {
		lock, ok := rt.adopt(ctx, e)
		if !ok {
			continue
		}
		n++
		if out != nil {
			fmt.Fprintf(out, "velocity: resuming execution %d (%s)\n", e.ID, e.Name)
		}
		rt.runInBackground(e, lock)
	}
	rt.bg.Wait()
	return n, nil
}

// staleLockAge is how long an execution lock file must have existed
// before sweepLocks may remove it: lockfile.Acquire creates the file
// before it locks it, and a file that new is never a leftover.
const staleLockAge = time.Minute

// sweepLocks removes execution lock files that nobody holds and that no
// live execution names: those of executions whose process was killed
// after they ended, or before they were recorded. A live execution's
// lock is left for whoever resumes it.
func (rt *workflowRuntime) sweepLocks(ctx context.Context) {
	paths, err := filepath.Glob(rt.h.lockPath("wf-*"))
	if err != nil || len(paths) == 0 {
		return
	}
	live, err := rt.h.store.LiveExecutions(ctx)
	if err != nil {
		return
	}
	named := make(map[string]bool, len(live))
	for _, e := range live {
		named[e.Lock] = true
	}
	for _, p := range paths {
		if named[p] {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil || time.Since(fi.ModTime()) < staleLockAge {
			continue
		}
		if held, err := lockfile.Held(p); err == nil && !held {
			if err := os.Remove(p); err == nil {
				rt.log.Debug("removed a stale workflow lock file", "path", p)
			}
		}
	}
}

// resumeInBackground starts a detached `velocity workflow resume` when
// some execution's owner is gone, so that every workflow command (even
// `list`) gets interrupted executions going again without blocking.
func (rt *workflowRuntime) resumeInBackground(ctx context.Context) {
	rt.sweepLocks(ctx)
	orphans, err := rt.orphans(ctx)
	if err != nil || len(orphans) == 0 {
		return
	}
	self, err := os.Executable()
	if err != nil {
		return
	}
	logPath := filepath.Join(rt.h.dir, "logs", "workflow-resume.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer logf.Close()
	cmd := exec.Command(self, "--data-dir", rt.h.dir, "workflow", "resume")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session: it outlives this command and its terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		rt.log.Warn("could not start the workflow resumer", "err", err)
		return
	}
	go cmd.Wait()
	rt.log.Debug("resuming interrupted workflow executions in the background", "pid", cmd.Process.Pid, "count", len(orphans))
}

func decodeJSON(b []byte) (any, error) {
	if len(b) == 0 {
		return &jsonvalue.Object{}, nil
	}
	return payload.Decode(b)
}
