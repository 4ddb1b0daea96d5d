package executions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/integration"
	"github.com/velocity-ci/velocity/internal/workflow/task"
)

// options is what running an execution again needs besides its
// definition and input (store.Execution.Options): kept so that a restart
// after a crash, a redrive or an adopted child runs it the same way.
type options struct {
	// Version is the format (optionsVersion); 0 for options journaled
	// before it existed, which have the same keys.
	Version int `json:"version"`
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

// optionsVersion is the format of journaled options.
const optionsVersion = 1

// newExecution is what starting an execution needs.
type newExecution struct {
	name, stateMachine string
	definition, input  []byte
	key                string
	limit              int
	parent             string
	// startedBy names the task that starts a child, for errors.
	startedBy string
	opts      options
}

// create records a new execution PENDING, owned by this process.
func (s *Service) create(ctx context.Context, n newExecution) (store.Execution, *claim, error) {
	lock, path, err := s.lockFor()
	if err != nil {
		return store.Execution{}, nil, err
	}
	n.opts.Version = optionsVersion
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
		id, err = s.st.CreateExecution(ctx, e)
	} else {
		id, err = s.st.CreateChild(ctx, e, s.limits)
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
	if err := s.lease(ctx, lock, id); err != nil {
		lock.Release()
		return e, nil, err
	}
	e, err = s.st.Execution(ctx, id)
	if err != nil {
		lock.Release()
	}
	return e, lock, err
}

// adopt takes over an execution whose owner is gone: it reports false
// when another process (or this one) runs it, or it has ended.
func (s *Service) adopt(ctx context.Context, e store.Execution) (*claim, bool) {
	if s.isActive(e.ID) || !s.orphaned(e) {
		return nil, false
	}
	l, err := lockfile.Acquire(e.Lock)
	if err != nil {
		return nil, false
	}
	c := &claim{lock: l}
	if err := s.takeOver(ctx, c, e.ID, lockNote(e.Lock)); err != nil {
		s.log.Debug("execution not adopted: its lease is held", "execution", e.ID, "err", err)
		c.Release()
		return nil, false
	}
	c.note(s.holder)
	// It may have ended between the listing and the lock.
	now, err := s.st.Execution(ctx, e.ID)
	if err != nil || now.Status.Final() {
		c.Release()
		return nil, false
	}
	return c, true
}

// execute runs an execution this process holds the lock of until it ends
// (or ctx is cancelled: then it stays resumable) and records its end.
func (s *Service) execute(ctx context.Context, e store.Execution, lock *claim, p Progress) (workflow.Result, error) {
	s.setActive(e.ID, true)
	defer func() {
		s.setActive(e.ID, false)
		lock.Release()
	}()
	var opts options
	if err := json.Unmarshal(e.Options, &opts); err != nil {
		return workflow.Result{}, fmt.Errorf("execution %d: options: %w", e.ID, err)
	}
	if opts.Version > optionsVersion {
		return workflow.Result{}, fmt.Errorf("execution %d: options format %d is newer than %d: upgrade velocity", e.ID, opts.Version, optionsVersion)
	}
	sm, err := asl.Load(opts.File, e.Definition)
	if err != nil {
		return s.finish(ctx, e, failed(asl.ErrRuntime, fmt.Sprintf("the definition does not load: %v", err)))
	}
	res, aborted, err := s.waitForSlot(ctx, e, p.Notify)
	if err != nil || aborted {
		return res, err
	}
	if e, err = s.st.Execution(ctx, e.ID); err != nil {
		return workflow.Result{}, err
	}
	resources, err := s.resources(e, opts, p)
	if err != nil {
		return s.finish(ctx, e, failed(asl.ErrRuntime, err.Error()))
	}
	run, err := s.prepare(ctx, e, sm)
	if err != nil {
		return workflow.Result{}, err
	}
	in := &workflow.Interpreter{
		Journal: s.journal(p), Invoker: resources, Logger: s.log, BaseDir: opts.Dir,
		Region: arnRegion, Account: arnAccount,
	}
	if o, ok := resources.AWS.(workflow.Objects); ok {
		in.Objects = o
	}
	if !e.StopRequested {
		if e, err = s.stopIfParentStopped(ctx, e); err != nil {
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
		go s.watchStop(runCtx, e.ID, cancel)
		if lock != nil && lock.lease != nil {
			go stopOnLostLease(runCtx, lock.lease, cancel)
		}
	}
	res, err = in.Run(runCtx, run)
	if lost := lostLease(lock); lost != nil {
		// The record is the new holder's now: how it ended here must
		// not overwrite what that holder records.
		return res, fmt.Errorf("execution %s: %w", e.Name, lost)
	}
	if errors.Is(err, workflow.ErrInputTooLarge) {
		// Left live, it would be resumed, and refused, for ever.
		return s.finish(ctx, e, failed(asl.ErrDataLimitExceeded, err.Error()))
	}
	if err != nil {
		return res, fmt.Errorf("execution %s: %w", e.Name, err)
	}
	return s.finish(ctx, e, res)
}

func failed(errName, cause string) workflow.Result {
	return workflow.Result{Status: workflow.StatusFailed, Error: errName, Cause: cause, StopTime: time.Now()}
}

// prepare is the interpreter's view of a recorded execution: its
// definition, input and history so far.
func (s *Service) prepare(ctx context.Context, e store.Execution, sm *asl.StateMachine) (workflow.Execution, error) {
	events, err := history(ctx, s.st, e.ID)
	if err != nil {
		return workflow.Execution{}, err
	}
	input, err := decodeJSON(e.Input)
	if err != nil {
		return workflow.Execution{}, fmt.Errorf("execution %d: input: %w", e.ID, err)
	}
	redriven := 0
	for _, ev := range events {
		if ev.Type == workflow.ExecutionRedriven {
			redriven++
		}
	}
	return workflow.Execution{
		ID: strconv.FormatInt(e.ID, 10), Name: e.Name, StateMachineName: e.StateMachine,
		ARN: e.ARN, StateMachineARN: StateMachineARN(e.StateMachine),
		Definition: sm, Input: input, History: events,
		// A redrive recorded in the store but not yet in the history
		// (the process died in between) is still to be done.
		Redrive: e.RedriveCount > redriven,
	}, nil
}

// stopIfParentStopped records the stop of an execution whose parent was
// stopped or aborted before it runs a state: one resumed after its
// parent's process died must not carry on alone (children started after
// the stop inherit it when they are created; this catches the older
// ones). It returns the execution as it is recorded now.
func (s *Service) stopIfParentStopped(ctx context.Context, e store.Execution) (store.Execution, error) {
	if e.Parent == "" {
		return e, nil
	}
	p, err := s.st.ExecutionByARN(ctx, e.Parent)
	if err != nil || !(p.StopRequested || p.Status == store.ExecutionAborted) {
		// A parent that is gone from the journal stops nothing.
		return e, nil
	}
	name, cause := p.StopError, p.StopCause
	if !p.StopRequested {
		name, cause = p.Error, "it was aborted"
	}
	if _, err := s.st.RequestStop(ctx, e.ID, name, fmt.Sprintf("stopped with execution %s: %s", p.ARN, cause)); err != nil {
		return e, err
	}
	return s.st.Execution(ctx, e.ID)
}

// finish records how an execution ended.
func (s *Service) finish(ctx context.Context, e store.Execution, res workflow.Result) (workflow.Result, error) {
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
	err := s.st.FinishExecution(context.WithoutCancel(ctx), e.ID, store.ExecutionStatus(res.Status), out, res.Error, res.Cause, at)
	return res, err
}

// waitForSlot claims the execution's concurrency slot, waiting in its
// key's queue. A stop requested meanwhile aborts it without running.
func (s *Service) waitForSlot(ctx context.Context, e store.Execution, notify func(string, ...any)) (workflow.Result, bool, error) {
	told := false
	lastSweep := time.Now()
	for {
		ok, err := s.st.ClaimExecution(ctx, e.ID, time.Now())
		if err != nil {
			return workflow.Result{}, false, err
		}
		if ok {
			return workflow.Result{}, false, nil
		}
		now, err := s.st.Execution(ctx, e.ID)
		if err != nil {
			return workflow.Result{}, false, err
		}
		if now.StopRequested {
			// Run it stopped: the interpreter journals ExecutionStarted and
			// ExecutionAborted without running a state.
			return workflow.Result{}, false, nil
		}
		if !told && notify != nil {
			notify("velocity: execution %s waits for concurrency key %q (at most %d at a time)\n", e.Name, e.ConcurrencyKey, e.ConcurrencyLimit)
			told = true
		}
		// An execution ahead in the queue may belong to a process that
		// died while we waited: have it resumed, or we wait forever.
		if time.Since(lastSweep) > 2*time.Second {
			lastSweep = time.Now()
			s.ResumeInBackground(ctx)
		}
		select {
		case <-ctx.Done():
			return workflow.Result{}, false, ctx.Err()
		case <-time.After(s.poll):
		}
	}
}

// watchStop turns a stop requested from any process into the
// interpreter's abort.
func (s *Service) watchStop(ctx context.Context, id int64, cancel context.CancelCauseFunc) {
	t := time.NewTicker(2 * s.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e, err := s.st.Execution(ctx, id)
		if err == nil && e.StopRequested {
			cancel(&workflow.Abort{Name: e.StopError, Cause: e.StopCause})
			return
		}
	}
}

// stopOnLostLease shuts the execution down, leaving it as journaled,
// when its lease is lost: this process was cut off from the store, or
// paused, for longer than the lease's TTL, and another node may have
// taken the execution over (see TakeOverExpired) and run it now.
func stopOnLostLease(ctx context.Context, lease *store.KeptLease, cancel context.CancelCauseFunc) {
	select {
	case <-ctx.Done():
	case <-lease.Lost():
		cancel(fmt.Errorf("%w; another node may run the execution now", lease.Err()))
	}
}

// lostLease is why c's lease was lost, nil while it is kept (or there
// is none).
func lostLease(c *claim) error {
	if c == nil || c.lease == nil {
		return nil
	}
	select {
	case <-c.lease.Lost():
		return c.lease.Err()
	default:
		return nil
	}
}

// resources is the task invoker of one execution.
func (s *Service) resources(e store.Execution, opts options, p Progress) (*task.Resources, error) {
	// The watchdog runs before any task command starts: started by the
	// first command, its own start-up would widen the moment between a
	// command's start and its registration, in which a kill -9 of
	// velocity leaves the command behind.
	s.reaper.get()
	r := &task.Resources{
		Dir: opts.Dir, Tokens: s.st, ExecutionID: e.ID, Reaper: s.reaper, PollInterval: s.poll,
		Children: &children{s: s, parent: e, opts: opts, watch: p},
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
		c, err := integration.New(s.ctx, integration.Config{Endpoint: endpoint})
		if err != nil {
			return nil, err
		}
		r.AWS = c
	}
	return r, nil
}

// runInBackground runs an execution this process holds the lock of in
// its own goroutine, bounded by the service's context; the channel
// closes when it returns.
func (s *Service) runInBackground(e store.Execution, lock *claim, p Progress) <-chan struct{} {
	s.bg.Add(1)
	// Register at once, so that a WaitChild right after sees it running here.
	s.setActive(e.ID, true)
	done := make(chan struct{})
	go func() {
		defer s.bg.Done()
		defer close(done)
		if _, err := s.execute(s.ctx, e, lock, p); err != nil && s.ctx.Err() == nil {
			s.log.Error("workflow execution stopped", "execution", e.ARN, "err", err)
		}
	}()
	return done
}
