package task

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// startExecution starts a child execution; with .sync or .sync:2 the task
// waits for it and returns its description (Output as a JSON string, or
// as JSON for .sync:2).
const startExecution = "arn:aws:states:::states:startExecution"

// Children starts and awaits child executions; the command line's
// execution runner implements it. Both methods are called from task
// goroutines, concurrently.
type Children interface {
	// StartChild starts a child execution, durably recorded before it
	// returns. A child of the same parent with the same name that exists
	// already is returned instead (so a task run again after a restart
	// finds the child it started before); another execution with that
	// name is an error.
	StartChild(ctx context.Context, c ChildRequest) (ChildExecution, error)
	// WaitChild blocks until the execution has ended.
	WaitChild(ctx context.Context, arn string) (ChildExecution, error)
}

// ChildRequest is what a startExecution task asks for.
type ChildRequest struct {
	// ParentARN is the execution whose task StateName starts the child.
	ParentARN        string
	StateName        string
	StateMachineARN  string
	StateMachineName string
	// DefinitionFile is the child's state machine.
	DefinitionFile string
	// Name is the execution's name; empty means one is generated.
	Name string
	// Input is the child's input (JSON).
	Input []byte
	// ConcurrencyKey and ConcurrencyLimit come from the binding of the
	// state machine; empty for none.
	ConcurrencyKey   string
	ConcurrencyLimit int
}

// ChildExecution describes a child execution like DescribeExecution.
type ChildExecution struct {
	ARN             string
	Name            string
	StateMachineARN string
	Status          string
	Input           []byte
	Output          []byte
	Error, Cause    string
	Start, Stop     time.Time
}

func (r *Resources) startExecution(ctx context.Context, req Request, pattern string) (any, error) {
	if pattern != "" && pattern != syncSuffix && pattern != sync2Suffix {
		return nil, asl.Failf(asl.ErrTaskFailed, "state %s: %s%s is not a startExecution pattern (use .sync or .sync:2)", req.StateName, startExecution, pattern)
	}
	if r.Children == nil {
		return nil, asl.Failf(asl.ErrTaskFailed, "state %s: child executions need the workflow journal", req.StateName)
	}
	m, err := object(startExecution, req.Input)
	if err != nil {
		return nil, err
	}
	smARN, err := stringField(startExecution, m, "StateMachineArn", true)
	if err != nil {
		return nil, err
	}
	name, err := stringField(startExecution, m, "Name", false)
	if err != nil {
		return nil, err
	}
	smName := smARN
	if i := strings.LastIndex(smARN, ":stateMachine:"); i >= 0 {
		smName = smARN[i+len(":stateMachine:"):]
		// A version or alias qualifier names the same definition locally.
		if j := strings.IndexByte(smName, ':'); j >= 0 {
			smName = smName[:j]
		}
	}
	file, binding, err := r.definitionFile(smARN, smName)
	if err != nil {
		return nil, err
	}
	var input []byte
	switch in := member(m, "Input").(type) {
	case nil:
		input = []byte("{}")
	case string:
		// Step Functions accepts the input as a JSON text too.
		if _, err := decode([]byte(in)); err != nil {
			return nil, asl.Failf("StepFunctions.InvalidExecutionInputException", "state %s: Input is a string that is not JSON: %v", req.StateName, err)
		}
		input = []byte(in)
	default:
		if input, err = encode(in); err != nil {
			return nil, asl.Failf(asl.ErrRuntime, "encode Input: %v", err)
		}
	}
	cr := ChildRequest{
		ParentARN: req.ExecutionARN, StateName: req.StateName, StateMachineARN: smARN, StateMachineName: smName,
		DefinitionFile: file, Name: name, Input: input,
	}
	if binding != nil && binding.keyPath != nil {
		in, _ := decode(input)
		v, err := binding.keyPath.Get(in, nil)
		if err != nil {
			return nil, asl.Failf(asl.ErrRuntime, "state %s: the concurrencyKey %s of state machine %s: %v", req.StateName, binding.ConcurrencyKey, smName, err)
		}
		cr.ConcurrencyKey = smName + ":" + scalar(v)
		cr.ConcurrencyLimit = max(binding.ConcurrencyLimit, 1)
	}
	child, err := r.Children.StartChild(ctx, cr)
	if err != nil {
		return nil, err
	}
	started := objectOf("ExecutionArn", child.ARN, "StartDate", millis(child.Start))
	if pattern == "" {
		return started, nil
	}
	if req.Submitted != nil {
		// Step Functions records the StartExecution answer as TaskSubmitted.
		req.Submitted(started)
	}
	done, err := r.Children.WaitChild(ctx, child.ARN)
	if err != nil {
		return nil, err
	}
	out, err := describe(done, pattern == sync2Suffix)
	if err != nil {
		return nil, err
	}
	if done.Status != "SUCCEEDED" {
		cause, _ := encode(out)
		return nil, &asl.Failure{Name: asl.ErrTaskFailed, Cause: string(cause)}
	}
	return out, nil
}

// definitionFile finds a child state machine: bound in the bindings
// file, else NAME.asl.json, NAME.asl.yaml, NAME.json or NAME.yaml beside
// the parent's definition.
func (r *Resources) definitionFile(arn, name string) (string, *Binding, error) {
	if b, ok := r.Bindings.lookup(arn, name); ok && b.Definition != "" {
		return b.Definition, b, nil
	}
	var tried []string
	for _, ext := range []string{".asl.json", ".asl.yaml", ".asl.yml", ".json", ".yaml", ".yml"} {
		p := filepath.Join(r.Dir, name+ext)
		if _, err := os.Stat(p); err == nil {
			return p, nil, nil
		}
		tried = append(tried, filepath.Base(p))
	}
	return "", nil, asl.Failf("StepFunctions.StateMachineDoesNotExistException",
		"state machine %s: no definition found; bind it in the bindings file ({definition: FILE}) or put %s in %s",
		arn, strings.Join(tried[:2], " or "), r.Dir)
}

// describe builds DescribeExecution's answer; v2 gives Input and Output
// as JSON instead of JSON text.
// Its members are in the order DescribeExecution's JSON lists them.
func describe(c ChildExecution, v2 bool) (*jsonvalue.Object, error) {
	var input, output any = string(c.Input), string(c.Output)
	if v2 {
		var err error
		if input, err = decode(c.Input); err != nil {
			return nil, fmt.Errorf("child %s input: %w", c.ARN, err)
		}
		if c.Status == "SUCCEEDED" {
			if output, err = decode(c.Output); err != nil {
				return nil, fmt.Errorf("child %s output: %w", c.ARN, err)
			}
		}
	}
	out := jsonvalue.NewObject(12)
	if c.Status != "SUCCEEDED" {
		out.Set("Cause", c.Cause)
		out.Set("Error", c.Error)
	}
	out.Set("ExecutionArn", c.ARN)
	out.Set("Input", input)
	out.Set("InputDetails", objectOf("Included", true))
	out.Set("Name", c.Name)
	if c.Status == "SUCCEEDED" {
		out.Set("Output", output)
		out.Set("OutputDetails", objectOf("Included", true))
	}
	out.Set("StartDate", millis(c.Start))
	out.Set("StateMachineArn", c.StateMachineARN)
	out.Set("Status", c.Status)
	out.Set("StopDate", millis(c.Stop))
	return out, nil
}

// millis is a date as the AWS SDKs' JSON gives it: milliseconds since
// the epoch.
func millis(t time.Time) json.Number {
	if t.IsZero() {
		return "0"
	}
	return json.Number(fmt.Sprint(t.UnixMilli()))
}
