package workflow

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/intrinsic"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// machine is a state machine (or a branch, or a Map's item processor)
// with every path and template compiled once, before anything runs.
type machine struct {
	startAt string
	states  map[string]*state
	config  *asl.ProcessorConfig
}

// state is one compiled state. Nil paths mean the field is absent ("$");
// the *Null flags record an explicit null.
type state struct {
	name string
	def  *asl.State

	entered, exited EventType

	inputPath, outputPath, resultPath         *jsonpath.Path
	inputPathNull, outputPathNull, resultNull bool
	parameters, resultSelector, assign        *payload.Template
	result                                    any // Pass Result
	hasResult                                 bool
	credentials                               *payload.Template

	timeoutPath, heartbeatPath *jsonpath.Path
	waitSecondsPath            *jsonpath.Path
	waitTimestampPath          *jsonpath.Path
	errorPath, causePath       *valueExpr

	choices []*choiceRule
	catch   []catcher

	branches []*machine

	// Map
	processor           *machine
	itemsPath           *jsonpath.Path
	items               *payload.Template
	itemSelector        *payload.Template
	maxConcurrencyPath  *jsonpath.Path
	toleratedPctPath    *jsonpath.Path
	toleratedCountPath  *jsonpath.Path
	readerParameters    *payload.Template
	readerMaxItemsPath  *jsonpath.Path
	batchInput          *payload.Template
	batchMaxItemsPath   *jsonpath.Path
	batchMaxBytesPath   *jsonpath.Path
	resultWriter        *resultWriter
	waitForTaskToken    bool
	lambda              bool // Resource is a Lambda function ARN
	resourceType, rname string

	// JSONata (jsonatamode.go)
	jsonata                  bool
	jargs, joutput, jassign  *jtemplate
	jitems, jitemSelector    *jtemplate
	jcredentials             *jtemplate
	jexprs                   map[string]*jtemplate
	jchoices                 []jchoice
	jreaderArgs, jbatchInput *jtemplate
}

type catcher struct {
	errorEquals []string
	next        string
	resultPath  *jsonpath.Path
	resultNull  bool
	assign      *payload.Template
	// JSONata: the catcher's Output and Assign.
	joutput, jassign *jtemplate
}

// definitionError reports a definition the interpreter cannot run; Load
// rejects these already, so it only shows for definitions built by hand.
func definitionError(where, format string, args ...any) error {
	return fmt.Errorf("definition %s: %s", where, fmt.Sprintf(format, args...))
}

func compileMachine(sm *asl.StateMachine, where string) (*machine, error) {
	if sm == nil {
		return nil, definitionError(where, "no state machine")
	}
	if sm.QueryLanguage == asl.JSONata {
		inheritJSONata(sm)
	}
	m := &machine{startAt: sm.StartAt, states: make(map[string]*state, len(sm.States)), config: sm.ProcessorConfig}
	if _, ok := sm.States[sm.StartAt]; !ok {
		return nil, definitionError(where, "StartAt %q names no state", sm.StartAt)
	}
	for name, def := range sm.States {
		st, err := compileState(name, def, where+"/States/"+name)
		if err != nil {
			return nil, err
		}
		m.states[name] = st
	}
	for name, st := range m.states {
		targets := []string{st.def.Next, st.def.Default}
		for _, c := range st.catch {
			targets = append(targets, c.next)
		}
		for _, c := range st.choices {
			targets = append(targets, c.next)
		}
		for _, t := range targets {
			if _, ok := m.states[t]; t != "" && !ok {
				return nil, definitionError(where+"/States/"+name, "transition to %q, which is not a state", t)
			}
		}
	}
	return m, nil
}

func compileState(name string, def *asl.State, where string) (*state, error) {
	if def == nil {
		return nil, definitionError(where, "empty state")
	}
	st := &state{name: name, def: def,
		inputPathNull: def.InputPathNull, outputPathNull: def.OutputPathNull, resultNull: def.ResultPathNull}
	var err error
	path := func(field string, expr *string, ref bool) *jsonpath.Path {
		if err != nil || expr == nil {
			return nil
		}
		var p *jsonpath.Path
		if ref {
			p, err = jsonpath.ParseReference(*expr)
		} else {
			p, err = jsonpath.Parse(*expr)
		}
		if err != nil {
			err = definitionError(where+"/"+field, "%v", err)
		}
		return p
	}
	optPath := func(field, expr string) *jsonpath.Path {
		if expr == "" {
			return nil
		}
		return path(field, &expr, false)
	}
	tmpl := func(field string, raw json.RawMessage) *payload.Template {
		if err != nil || len(raw) == 0 {
			return nil
		}
		t, e := payload.Compile(raw)
		if e != nil {
			err = definitionError(where+"/"+field, "%v", e)
		}
		return t
	}
	st.inputPath = path("InputPath", def.InputPath, false)
	st.outputPath = path("OutputPath", def.OutputPath, false)
	st.resultPath = path("ResultPath", def.ResultPath, true)
	st.parameters = tmpl("Parameters", def.Parameters)
	st.resultSelector = tmpl("ResultSelector", def.ResultSelector)
	st.credentials = tmpl("Credentials", def.Credentials)
	st.assign = tmpl("Assign", def.Assign)
	st.timeoutPath = optPath("TimeoutSecondsPath", def.TimeoutSecondsPath)
	st.heartbeatPath = optPath("HeartbeatSecondsPath", def.HeartbeatSecondsPath)
	st.waitSecondsPath = optPath("SecondsPath", def.SecondsPath)
	st.waitTimestampPath = optPath("TimestampPath", def.TimestampPath)
	if st.errorPath, err = compileValueExpr(def.ErrorPath); err != nil {
		return nil, definitionError(where+"/ErrorPath", "%v", err)
	}
	if st.causePath, err = compileValueExpr(def.CausePath); err != nil {
		return nil, definitionError(where+"/CausePath", "%v", err)
	}
	if err != nil {
		return nil, err
	}
	if len(def.Result) > 0 {
		st.result, err = payload.Decode(def.Result)
		if err != nil {
			return nil, definitionError(where+"/Result", "%v", err)
		}
		st.hasResult = true
	}
	for i, c := range def.Catch {
		cc := catcher{errorEquals: c.ErrorEquals, next: c.Next, resultNull: c.ResultPathNull}
		if len(c.Assign) > 0 {
			if cc.assign, err = payload.Compile(c.Assign); err != nil {
				return nil, definitionError(fmt.Sprintf("%s/Catch/%d/Assign", where, i), "%v", err)
			}
		}
		if c.ResultPath != nil {
			cc.resultPath, err = jsonpath.ParseReference(*c.ResultPath)
			if err != nil {
				return nil, definitionError(fmt.Sprintf("%s/Catch/%d/ResultPath", where, i), "%v", err)
			}
		}
		st.catch = append(st.catch, cc)
	}

	switch def.Type {
	case asl.TypeTask:
		st.entered, st.exited = TaskStateEntered, TaskStateExited
		if def.Resource == "" {
			return nil, definitionError(where, "Task state without Resource")
		}
		st.waitForTaskToken = strings.HasSuffix(def.Resource, ".waitForTaskToken")
		st.resourceType, st.rname = splitResource(def.Resource)
		st.lambda = strings.HasPrefix(def.Resource, "arn:aws:lambda:") && strings.Contains(def.Resource, ":function:")
	case asl.TypePass:
		st.entered, st.exited = PassStateEntered, PassStateExited
	case asl.TypeChoice:
		st.entered, st.exited = ChoiceStateEntered, ChoiceStateExited
		for i := range def.Choices {
			if def.QueryLanguage == asl.JSONata {
				break
			}
			r, err := compileChoice(&def.Choices[i], fmt.Sprintf("%s/Choices/%d", where, i))
			if err != nil {
				return nil, err
			}
			r.next = def.Choices[i].Next
			if a := def.Choices[i].Assign; len(a) > 0 {
				if r.assign, err = payload.Compile(a); err != nil {
					return nil, definitionError(fmt.Sprintf("%s/Choices/%d/Assign", where, i), "%v", err)
				}
			}
			st.choices = append(st.choices, r)
		}
	case asl.TypeWait:
		st.entered, st.exited = WaitStateEntered, WaitStateExited
	case asl.TypeSucceed:
		st.entered, st.exited = SucceedStateEntered, SucceedStateExited
	case asl.TypeFail:
		st.entered = FailStateEntered
	case asl.TypeParallel:
		st.entered, st.exited = ParallelStateEntered, ParallelStateExited
		for i, b := range def.Branches {
			m, err := compileMachine(b, fmt.Sprintf("%s/Branches/%d", where, i))
			if err != nil {
				return nil, err
			}
			st.branches = append(st.branches, m)
		}
	case asl.TypeMap:
		st.entered, st.exited = MapStateEntered, MapStateExited
		proc := def.ItemProcessor
		if proc == nil {
			proc = def.Iterator
		}
		st.processor, err = compileMachine(proc, where+"/ItemProcessor")
		if err != nil {
			return nil, err
		}
		st.itemsPath = path("ItemsPath", def.ItemsPath, true)
		st.items = tmpl("Items", def.Items)
		sel := def.ItemSelector
		if len(sel) == 0 {
			// Parameters is the older name of a Map's ItemSelector.
			sel = def.Parameters
		}
		st.parameters = nil
		st.itemSelector = tmpl("ItemSelector", sel)
		if len(def.ResultWriter) > 0 {
			if st.resultWriter, err = compileResultWriter(def.ResultWriter); err != nil {
				return nil, definitionError(where+"/ResultWriter", "%v", err)
			}
		}
		st.maxConcurrencyPath = optPath("MaxConcurrencyPath", def.MaxConcurrencyPath)
		st.toleratedPctPath = optPath("ToleratedFailurePercentagePath", def.ToleratedFailurePercentagePath)
		st.toleratedCountPath = optPath("ToleratedFailureCountPath", def.ToleratedFailureCountPath)
		if r := def.ItemReader; r != nil {
			st.readerParameters = tmpl("ItemReader/Parameters", r.Parameters)
			if r.ReaderConfig != nil {
				st.readerMaxItemsPath = optPath("ItemReader/ReaderConfig/MaxItemsPath", r.ReaderConfig.MaxItemsPath)
			}
		}
		if b := def.ItemBatcher; b != nil {
			st.batchInput = tmpl("ItemBatcher/BatchInput", b.BatchInput)
			st.batchMaxItemsPath = optPath("ItemBatcher/MaxItemsPerBatchPath", b.MaxItemsPerBatchPath)
			st.batchMaxBytesPath = optPath("ItemBatcher/MaxInputBytesPerBatchPath", b.MaxInputBytesPerBatchPath)
		}
		if err != nil {
			return nil, err
		}
	default:
		return nil, definitionError(where, "unknown state type %q", def.Type)
	}
	if def.QueryLanguage == asl.JSONata {
		if err := compileJSONataState(st, def, where); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// valueExpr is a field that holds a path or an intrinsic function call
// (a Fail state's ErrorPath and CausePath).
type valueExpr struct {
	path *jsonpath.Path
	call *intrinsic.Call
	src  string
}

func compileValueExpr(src string) (*valueExpr, error) {
	if src == "" {
		return nil, nil
	}
	if strings.HasPrefix(src, "States.") {
		c, err := intrinsic.Parse(src)
		return &valueExpr{call: c, src: src}, err
	}
	p, err := jsonpath.Parse(src)
	return &valueExpr{path: p, src: src}, err
}

func (e *valueExpr) eval(input, ctxObj any) (any, error) {
	if e.call != nil {
		return e.call.Eval(input, ctxObj)
	}
	return e.path.Get(input, ctxObj)
}

// splitResource gives the resourceType and resource of a task's events:
// "arn:aws:states:::lambda:invoke" is ("lambda", "invoke"); any other ARN
// is (its service, the whole ARN).
func splitResource(arn string) (string, string) {
	if rest, ok := strings.CutPrefix(arn, "arn:aws:states:::"); ok {
		if svc, res, ok := strings.Cut(rest, ":"); ok {
			return svc, res
		}
		return rest, rest
	}
	parts := strings.SplitN(arn, ":", 4)
	if len(parts) >= 3 && parts[0] == "arn" {
		return parts[2], arn
	}
	return "", arn
}

// inheritJSONata gives every state of a JSONata machine, branches and
// processors included, the top level's language.
func inheritJSONata(sm *asl.StateMachine) {
	for _, st := range sm.States {
		if st == nil {
			continue
		}
		if st.QueryLanguage == "" {
			st.QueryLanguage = asl.JSONata
		}
		for _, b := range st.Branches {
			if b != nil {
				inheritJSONata(b)
			}
		}
		if st.ItemProcessor != nil {
			inheritJSONata(st.ItemProcessor)
		}
	}
}
