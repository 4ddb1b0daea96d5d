package executions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/task"
)

// children starts the child executions of one parent execution; they
// inherit its bindings, mocks and Progress.
type children struct {
	s      *Service
	parent store.Execution
	opts   options
	watch  Progress
}

var _ task.Children = (*children)(nil)

// StartChild implements task.Children.
func (c *children) StartChild(ctx context.Context, req task.ChildRequest) (task.ChildExecution, error) {
	s := c.s
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
	if e, err := s.st.ExecutionByARN(ctx, arn); err == nil {
		if e.Parent != req.ParentARN {
			return task.ChildExecution{}, &asl.Failure{Name: "StepFunctions.ExecutionAlreadyExistsException",
				Cause: fmt.Sprintf("Execution Already Exists: '%s'", arn)}
		}
		// Started by this task before a restart: carry on with it.
		if lock, ok := s.adopt(ctx, e); ok {
			s.runInBackground(e, lock, c.watch)
		}
		return describeChild(e), nil
	}
	src, err := childDefinition(req)
	if err != nil {
		return task.ChildExecution{}, err
	}
	opts := c.opts
	opts.File = req.DefinitionFile
	opts.Dir = filepath.Dir(req.DefinitionFile)
	e, lock, err := s.create(ctx, newExecution{
		name: name, stateMachine: req.StateMachineName, definition: src, input: req.Input,
		key: req.ConcurrencyKey, limit: req.ConcurrencyLimit, parent: req.ParentARN, opts: opts,
		startedBy: fmt.Sprintf("%s: state %s", statePosition(c.opts.File, c.parent.Definition, req.StateName), req.StateName),
	})
	if err != nil {
		return task.ChildExecution{}, err
	}
	s.runInBackground(e, lock, c.watch)
	return describeChild(e), nil
}

// childDefinition reads and checks the definition a child runs; its
// problems are failures of the task, which a Catch can handle.
func childDefinition(req task.ChildRequest) ([]byte, error) {
	src, err := asl.ReadFile(req.DefinitionFile)
	var tooLarge asl.Errors
	if err != nil && !errors.As(err, &tooLarge) {
		return nil, asl.Failf("StepFunctions.StateMachineDoesNotExistException", "state machine %s: %v", req.StateMachineARN, err)
	}
	if err == nil {
		_, err = asl.Load(req.DefinitionFile, src)
	}
	if err != nil {
		return nil, asl.Failf("StepFunctions.InvalidDefinitionException", "state machine %s: %v", req.StateMachineARN, err)
	}
	return src, nil
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

// WaitChild implements task.Children.
func (c *children) WaitChild(ctx context.Context, arn string) (task.ChildExecution, error) {
	s := c.s
	for {
		e, err := s.st.ExecutionByARN(ctx, arn)
		if err != nil {
			return task.ChildExecution{}, err
		}
		if e.Status.Final() {
			return describeChild(e), nil
		}
		// Its owner died while we waited: run it here.
		if lock, ok := s.adopt(ctx, e); ok {
			s.runInBackground(e, lock, c.watch)
		}
		select {
		case <-ctx.Done():
			return task.ChildExecution{}, ctx.Err()
		case <-time.After(s.poll):
		}
	}
}

func describeChild(e store.Execution) task.ChildExecution {
	return task.ChildExecution{
		ARN: e.ARN, Name: e.Name, StateMachineARN: StateMachineARN(e.StateMachine), Status: string(e.Status),
		Input: e.Input, Output: e.Output, Error: e.Error, Cause: e.Cause, Start: e.Created, Stop: e.Stopped,
	}
}
