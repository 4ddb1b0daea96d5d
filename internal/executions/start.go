package executions

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
	"github.com/velocity-ci/velocity/internal/workflow/task"
)

// Step Functions' quotas on the JSON of an execution's input and a
// task's output, and how much text is read to find that JSON.
const (
	MaxPayloadBytes     = workflow.MaxPayloadBytes
	MaxPayloadTextBytes = workflow.MaxPayloadTextBytes
)

// CompactJSON parses a JSON document (keeping the order of object
// members) and gives it back compact, as an execution records it.
func CompactJSON(src []byte) ([]byte, error) {
	v, err := payload.Decode(src)
	if err != nil {
		return nil, err
	}
	return marshalJSON(v)
}

// Definition is a state machine definition that satisfies the States
// Language.
type Definition struct {
	// File is the name it was asked by; Path its absolute path.
	File, Path string
	Source     []byte
	// States counts its states, with those of branches and item
	// processors.
	States   int
	Warnings []string
}

// LoadDefinition reads and checks the definition file (relative to
// dir). A file that does not satisfy the States Language is a
// *DefinitionError; every error is ErrInvalid.
func LoadDefinition(dir, file string) (*Definition, error) {
	path := resolve(dir, file)
	src, err := asl.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, invalidf("%s: no such file", file)
	}
	if err != nil {
		return nil, invalidf("%v", err)
	}
	d, err := ParseDefinition(file, src)
	if err != nil {
		return nil, err
	}
	if d.Path, err = filepath.Abs(path); err != nil {
		return nil, err
	}
	return d, nil
}

// resolve is path relative to dir, unless absolute.
func resolve(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// countStates counts the states of a machine and of its branches and
// item processors.
func countStates(sm *asl.StateMachine) int {
	if sm == nil {
		return 0
	}
	n := 0
	for _, s := range sm.States {
		n++
		for _, b := range s.Branches {
			n += countStates(b)
		}
		n += countStates(s.ItemProcessor)
	}
	return n
}

// StartRequest asks for a new execution. The error messages about its
// fields name the command line's flags, which carry the same names.
type StartRequest struct {
	// Dir resolves the request's relative paths.
	Dir        string
	Definition *Definition
	// Input is the execution's input, compact JSON (CompactJSON).
	Input []byte
	// Name is the execution's (default: generated); StateMachine the
	// state machine's (default: the file name without extensions).
	Name, StateMachine string
	// Bindings names a file binding resources to commands, URLs and
	// state machines; Mocks a Step Functions Local MockConfigFile whose
	// TestCase (NAME or STATE_MACHINE#NAME) the tasks get.
	Bindings, Mocks, TestCase string
	// AWSEndpoint sends AWS service integrations to a URL, or to AWS
	// itself with "aws"; empty: none (mocks and bindings only).
	AWSEndpoint string
	// Executions with the same ConcurrencyKey run at most
	// ConcurrencyLimit at a time.
	ConcurrencyKey   string
	ConcurrencyLimit int
}

// Start records a new execution, owned by this process until the Run
// is waited for or detached. Mistakes of the request are ErrInvalid.
func (s *Service) Start(ctx context.Context, req StartRequest) (*Run, error) {
	smName := req.StateMachine
	if smName == "" {
		smName = stateMachineName(req.Definition.File)
	}
	opts := options{Dir: filepath.Dir(req.Definition.Path), File: req.Definition.Path}
	if req.Bindings != "" {
		if _, err := task.LoadBindings(resolve(req.Dir, req.Bindings)); err != nil {
			return nil, invalidf("--bindings: %v", err)
		}
		opts.Bindings, _ = filepath.Abs(resolve(req.Dir, req.Bindings))
	}
	var err error
	if smName, err = checkMocks(req, smName, &opts); err != nil {
		return nil, err
	}
	if e := req.AWSEndpoint; e != "" && e != "aws" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, invalidf("--aws-endpoint %q is not an http or https URL (or \"aws\")", e)
		}
	}
	opts.AWSEndpoint = req.AWSEndpoint
	if req.ConcurrencyLimit < 1 {
		return nil, invalidf("--concurrency-limit must be at least 1, not %d", req.ConcurrencyLimit)
	}
	name := req.Name
	if name == "" {
		name = newToken()
	}
	if err := checkName(name); err != nil {
		return nil, invalidf("--name %q: %v", name, err)
	}
	if err := checkName(smName); err != nil {
		return nil, invalidf("state machine name %q: %v; give another with --state-machine", smName, err)
	}
	e, lock, err := s.create(ctx, newExecution{
		name: name, stateMachine: smName, definition: req.Definition.Source, input: req.Input,
		key: req.ConcurrencyKey, limit: req.ConcurrencyLimit, opts: opts,
	})
	var f *asl.Failure
	if errors.As(err, &f) {
		if f.Name == "StepFunctions.ExecutionAlreadyExistsException" {
			return nil, &existsError{invalidError{f.Cause}}
		}
		return nil, invalidf("%s", f.Cause)
	}
	if err != nil {
		return nil, err
	}
	return &Run{Execution: e, s: s, lock: lock}, nil
}

// checkMocks checks the request's mocks and test case and records them
// in opts; a test case STATE_MACHINE#NAME names the state machine, which
// it returns.
func checkMocks(req StartRequest, smName string, opts *options) (string, error) {
	if req.Mocks == "" {
		if req.TestCase != "" {
			return smName, invalidf("--test-case needs --mocks FILE")
		}
		return smName, nil
	}
	m, err := task.LoadMocks(resolve(req.Dir, req.Mocks))
	if err != nil {
		return smName, invalidf("--mocks: %v", err)
	}
	tc := req.TestCase
	if sm, c, ok := strings.Cut(tc, "#"); ok {
		smName, tc = sm, c
	}
	if _, ok := m.StateMachines[smName]; !ok {
		return smName, invalidf("--mocks %s has no state machine %q under StateMachines (it has: %s); name the state machine with --state-machine or --test-case STATE_MACHINE#NAME",
			req.Mocks, smName, strings.Join(slices.Sorted(maps.Keys(m.StateMachines)), ", "))
	}
	if tc == "" {
		return smName, invalidf("--mocks needs --test-case NAME (test cases of %s: %s)", smName, strings.Join(m.TestCases(smName), ", "))
	}
	if !m.HasTestCase(smName, tc) {
		return smName, invalidf("%s has no test case %q for state machine %s (it has: %s)", req.Mocks, tc, smName, strings.Join(m.TestCases(smName), ", "))
	}
	opts.Mocks, _ = filepath.Abs(resolve(req.Dir, req.Mocks))
	opts.TestCase = tc
	return smName, nil
}

// Run is an execution this process recorded (or redrove) and holds:
// Wait runs it here, Detach leaves it to a background process. One of
// them must be called, once.
type Run struct {
	Execution store.Execution
	s         *Service
	lock      *claim
}

// Wait runs the execution here until it ends and records its end; p
// hears of its progress. A cancelled ctx leaves it as journaled,
// resumable; to abort it, Stop it.
func (r *Run) Wait(ctx context.Context, p Progress) (Result, error) {
	return r.s.execute(ctx, r.Execution, r.lock, p)
}

// Detach lets go of the execution: the background resumer
// (Config.ResumeCommand) takes it over.
func (r *Run) Detach(ctx context.Context) {
	r.lock.Release()
	r.s.ResumeInBackground(ctx)
}

// Stop records a stop of the execution and of every execution below it,
// before any of them acts on it, so that whoever resumes one later
// aborts it instead of carrying on; the process running each sees it
// and aborts. It returns how many executions below were asked; one that
// has ended already is not an error.
func (r *Run) Stop(ctx context.Context, errName, cause string) (int, error) {
	below, err := r.s.st.RequestStop(context.WithoutCancel(ctx), r.Execution.ID, errName, cause)
	if errors.Is(err, store.ErrNotFound) {
		return below, nil
	}
	return below, err
}
