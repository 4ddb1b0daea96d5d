package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonata"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// This file runs states written in the JSONata query language
// ("Transforming data with JSONata in Step Functions", AWS Step Functions
// developer guide): Arguments, Output, Assign, Condition, Items,
// ItemSelector and the numeric fields as "{% expression %}" strings,
// with $states (input, result, errorOutput, context) and the workflow
// variables as JSONata bindings.

// jtemplate is a compiled JSONata field value: a "{% expression %}"
// string is evaluated, objects and arrays are walked, anything else is
// literal.
type jtemplate struct {
	expr *jsonata.Expression
	lit  any
	keys []string
	kids []*jtemplate
	obj  bool
	arr  bool
}

func compileJTemplate(raw json.RawMessage) (*jtemplate, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	v, err := payload.Decode(raw)
	if err != nil {
		return nil, err
	}
	return compileJValue(v)
}

func compileJString(s string) (*jtemplate, error) {
	if s == "" {
		return nil, nil
	}
	return compileJValue(s)
}

func compileJValue(v any) (*jtemplate, error) {
	switch x := v.(type) {
	case string:
		if src, ok := asl.ExpressionText(x); ok {
			e, err := jsonata.Compile(src)
			if err != nil {
				return nil, err
			}
			return &jtemplate{expr: e}, nil
		}
	case *jsonvalue.Object:
		t := &jtemplate{obj: true}
		for _, m := range x.Members() {
			k, err := compileJValue(m.Value)
			if err != nil {
				return nil, err
			}
			t.keys, t.kids = append(t.keys, m.Key), append(t.kids, k)
		}
		return t, nil
	case []any:
		t := &jtemplate{arr: true}
		for _, it := range x {
			k, err := compileJValue(it)
			if err != nil {
				return nil, err
			}
			t.kids = append(t.kids, k)
		}
		return t, nil
	}
	return &jtemplate{lit: v}, nil
}

// jfieldError is an expression of a template that failed (err) or gave
// nothing (err nil), with the field it is written in named as Step
// Functions names it: "Output/a/b[0]".
type jfieldError struct {
	field, expr string
	err         error
}

func (e *jfieldError) Error() string { return e.field + ": " + e.expr }

// eval evaluates the template. An expression giving nothing fails, at
// any depth, as it does on Step Functions; JSON null is a value.
func (t *jtemplate) eval(ctx context.Context, b map[string]any, field string) (any, error) {
	switch {
	case t.expr != nil:
		v, err := t.expr.Evaluate(ctx, jsonata.Undefined, b)
		if err != nil || v == jsonata.Undefined {
			return nil, &jfieldError{field: field, expr: strings.TrimSpace(t.expr.String()), err: err}
		}
		return v, nil
	case t.obj:
		o := jsonvalue.NewObject(len(t.keys))
		for i, k := range t.kids {
			v, err := k.eval(ctx, b, field+"/"+t.keys[i])
			if err != nil {
				return nil, err
			}
			o.Set(t.keys[i], v)
		}
		return o, nil
	case t.arr:
		a := make([]any, len(t.kids))
		for i, k := range t.kids {
			v, err := k.eval(ctx, b, fmt.Sprintf("%s[%d]", field, i))
			if err != nil {
				return nil, err
			}
			a[i] = v
		}
		return a, nil
	}
	return t.lit, nil
}

// jstates is what a JSONata state's expressions see as $states.
type jstates struct {
	input, result, errorOutput any
	hasResult, hasError        bool
}

// jbindings are the bindings of a JSONata evaluation: every variable the
// state can read (inner scopes hiding outer ones) and $states.
func (s *scope) jbindings(ctxObj any, st jstates) map[string]any {
	var chain []*scope
	for sc := s; sc != nil; sc = sc.parent {
		chain = append(chain, sc)
	}
	b := map[string]any{}
	for i := len(chain) - 1; i >= 0; i-- {
		for k, v := range chain[i].vars {
			b[k] = v
		}
	}
	o := jsonvalue.NewObject(4)
	o.Set("input", st.input)
	if env, ok := ctxObj.(*jsonpath.Env); ok {
		o.Set("context", env.Context)
	}
	if st.hasResult {
		o.Set("result", st.result)
	}
	if st.hasError {
		o.Set("errorOutput", st.errorOutput)
	}
	b["states"] = o
	return b
}

// jeval evaluates field of state v; an expression that fails or gives
// nothing fails the state with States.QueryEvaluationError.
func (s *scope) jeval(v *visit, field string, t *jtemplate, ctxObj any, st jstates) (any, error) {
	ctx := v.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	out, err := t.eval(ctx, s.jbindings(ctxObj, st), field)
	if err == nil {
		return out, nil
	}
	if ctx.Err() != nil {
		// Stopped, not failed: nothing is recorded for the expression.
		return nil, &stopError{err: ctx.Err()}
	}
	var fe *jfieldError
	if !errors.As(err, &fe) {
		return nil, s.queryFailure(v, field, err.Error())
	}
	if fe.err == nil {
		return nil, s.queryFailure(v, fe.field, fmt.Sprintf("The JSONata expression '%s' specified for the field '%s' returned nothing (undefined).", fe.expr, fe.field))
	}
	// Step Functions joins a coded JSONata error to its sentence with
	// ". CODE: message" and a bound exceeded with ": message" (causes
	// recorded from AWS, as emulators matching them byte for byte show).
	detail := ": " + fe.err.Error()
	var je *jsonata.Error
	if errors.As(fe.err, &je) {
		detail = ". " + je.Code + ": " + je.Message
		if errors.Is(fe.err, jsonata.ErrLimit) {
			detail = ": " + je.Message
		}
	}
	return nil, s.queryFailure(v, fe.field, fmt.Sprintf("The JSONata expression '%s' specified for the field '%s' threw an error during evaluation%s", fe.expr, fe.field, detail))
}

func exprText(t *jtemplate) string {
	if t.expr != nil {
		return strings.TrimSpace(t.expr.String())
	}
	return ""
}

// queryFailure is States.QueryEvaluationError, recorded first as an
// EvaluationFailed event as Step Functions records it.
func (s *scope) queryFailure(v *visit, field, cause string) error {
	cause = fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", v.st.name, s.enteredID(v), cause)
	s.emit(EvaluationFailed, evaluationFailedDetails{Error: asl.ErrQueryEvaluationError, Cause: cause, Location: field, State: v.st.name}, nil)
	return asl.Failf(asl.ErrQueryEvaluationError, "%s", cause)
}

// typeFailure is the States.QueryEvaluationError of an expression that
// gave a value of the wrong type, worded as Step Functions words it
// (JavaScript's typeof names the type).
func (s *scope) typeFailure(v *visit, field string, t *jtemplate, want string, got any) error {
	return s.queryFailure(v, field, fmt.Sprintf("The JSONata expression '%s' specified for the field '%s' returned an unexpected result type. Expected '%s', but was '%s' for value: %s",
		exprText(t), field, want, jsTypeof(got), jsonString(got)))
}

func jsTypeof(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "object"
}

type evaluationFailedDetails struct {
	Error    string `json:"error"`
	Cause    string `json:"cause"`
	Location string `json:"location"`
	State    string `json:"state"`
}

// jassign evaluates a JSONata Assign.
func (s *scope) jassign(v *visit, field string, t *jtemplate, ctxObj any, st jstates) (*jsonvalue.Object, error) {
	if t == nil {
		return nil, nil
	}
	out, err := s.jeval(v, field, t, ctxObj, st)
	if err != nil {
		return nil, err
	}
	obj, _ := out.(*jsonvalue.Object)
	return s.checkAssign(v, obj)
}

// jnumber evaluates a numeric field written as an expression.
func (s *scope) jnumber(v *visit, field string, ctxObj any, in any, min, max float64, integer bool) (float64, bool, error) {
	t := v.st.jexprs[field]
	if t == nil {
		return 0, false, nil
	}
	out, err := s.jeval(v, field, t, ctxObj, jstates{input: in})
	if err != nil {
		return 0, false, err
	}
	n, ok := out.(json.Number)
	if !ok {
		return 0, false, s.typeFailure(v, field, t, "number", out)
	}
	f, ferr := n.Float64()
	if ferr != nil || f < min || f > max || (integer && f != math.Trunc(f)) {
		what := "an integer"
		if !integer {
			what = "a number"
		}
		return 0, false, s.queryFailure(v, field, fmt.Sprintf("The JSONata expression '%s' specified for the field '%s' must give %s from %s to %s, got %s.",
			exprText(t), field, what, strconv.FormatFloat(min, 'f', -1, 64), strconv.FormatFloat(max, 'f', -1, 64), jsonString(out)))
	}
	return f, true, nil
}

// jstring evaluates a string field (Timestamp, Error, Cause) written as
// an expression.
func (s *scope) jstring(v *visit, field string, ctxObj any, in any) (string, bool, error) {
	t := v.st.jexprs[field]
	if t == nil {
		return "", false, nil
	}
	out, err := s.jeval(v, field, t, ctxObj, jstates{input: in})
	if err != nil {
		return "", false, err
	}
	str, ok := out.(string)
	if !ok {
		return "", false, s.typeFailure(v, field, t, "string", out)
	}
	return str, true, nil
}

// compileJSONataState compiles the JSONata fields of st.
func compileJSONataState(st *state, def *asl.State, where string) error {
	var err error
	tmpl := func(field string, raw json.RawMessage) *jtemplate {
		if err != nil {
			return nil
		}
		t, e := compileJTemplate(raw)
		if e != nil {
			err = definitionError(where+"/"+field, "%v", e)
		}
		return t
	}
	st.jsonata = true
	st.jargs = tmpl("Arguments", def.Arguments)
	st.joutput = tmpl("Output", def.Output)
	st.jassign = tmpl("Assign", def.Assign)
	st.jitems = tmpl("Items", def.Items)
	st.jitemSelector = tmpl("ItemSelector", def.ItemSelector)
	st.jcredentials = tmpl("Credentials", def.Credentials)
	st.jexprs = map[string]*jtemplate{}
	for k, src := range def.Exprs {
		if st.jexprs[k], err = compileJString(src); err != nil {
			return definitionError(where+"/"+k, "%v", err)
		}
	}
	for k, src := range map[string]string{"Timestamp": def.Timestamp, "Error": def.Error, "Cause": def.Cause} {
		if _, ok := asl.ExpressionText(src); ok {
			if st.jexprs[k], err = compileJString(src); err != nil {
				return definitionError(where+"/"+k, "%v", err)
			}
		}
	}
	for i := range def.Catch {
		st.catch[i].joutput = tmpl(fmt.Sprintf("Catch/%d/Output", i), def.Catch[i].Output)
		st.catch[i].jassign = tmpl(fmt.Sprintf("Catch/%d/Assign", i), def.Catch[i].Assign)
		st.catch[i].assign = nil
	}
	for i := range def.Choices {
		c := def.Choices[i]
		if c.Condition == "" {
			return definitionError(fmt.Sprintf("%s/Choices/%d", where, i), "a JSONata rule needs a Condition")
		}
		st.jchoices = append(st.jchoices, jchoice{
			cond: tmpl(fmt.Sprintf("Choices/%d/Condition", i), json.RawMessage(mustJSON(c.Condition))),
			next: c.Next, assign: tmpl(fmt.Sprintf("Choices/%d/Assign", i), c.Assign),
			output: tmpl(fmt.Sprintf("Choices/%d/Output", i), c.Output)})
	}
	if def.ItemReader != nil {
		st.jreaderArgs = tmpl("ItemReader/Arguments", def.ItemReader.Arguments)
		st.readerParameters = nil
	}
	if def.ItemBatcher != nil {
		st.jbatchInput = tmpl("ItemBatcher/BatchInput", def.ItemBatcher.BatchInput)
		st.batchInput = nil
	}
	return err
}

type jchoice struct {
	cond, assign, output *jtemplate
	next                 string
}

// jchoiceState runs a JSONata Choice: the first rule whose Condition is
// true is taken; Assign and Output read $states.input.
func (s *scope) jchoiceState(v *visit) (any, string, error) {
	ctxObj := s.context(v, 0, "")
	in := jstates{input: v.input}
	next := ""
	var ruleAssign, ruleOutput *jtemplate
	taken := 0
	for i, r := range v.st.jchoices {
		field := fmt.Sprintf("Choices[%d]/Condition", i)
		ok, err := s.jeval(v, field, r.cond, ctxObj, in)
		if err != nil {
			return nil, "", err
		}
		b, isBool := ok.(bool)
		if !isBool {
			return nil, "", s.typeFailure(v, field, r.cond, "boolean", ok)
		}
		if b {
			next, ruleAssign, ruleOutput, taken = r.next, r.assign, r.output, i
			break
		}
	}
	if next == "" {
		next = v.st.def.Default
	}
	if next == "" {
		return nil, "", asl.Failf(asl.ErrNoChoiceMatched, "No Matches!")
	}
	var err error
	if v.assigned, err = s.jassign(v, "Assign", v.st.jassign, ctxObj, in); err != nil {
		return nil, "", err
	}
	if ruleAssign != nil {
		fromRule, err := s.jassign(v, fmt.Sprintf("Choices[%d]/Assign", taken), ruleAssign, ctxObj, in)
		if err != nil {
			return nil, "", err
		}
		if v.assigned == nil {
			v.assigned = fromRule
		} else if fromRule != nil {
			v.assigned = v.assigned.Clone()
			for _, m := range fromRule.Members() {
				v.assigned.Set(m.Key, m.Value)
			}
		}
	}
	if ruleOutput != nil {
		// The rule taken has its own Output, which the state's yields to.
		out, err := s.jeval(v, fmt.Sprintf("Choices[%d]/Output", taken), ruleOutput, ctxObj, in)
		return out, next, err
	}
	out, err := s.joutputOf(v, ctxObj, in, v.input)
	return out, next, err
}

// joutputOf computes Assign (unless done) and Output of a JSONata state;
// def is the output without an Output field.
func (s *scope) joutputOf(v *visit, ctxObj any, st jstates, def any) (any, error) {
	if v.st.joutput == nil {
		return def, nil
	}
	return s.jeval(v, "Output", v.st.joutput, ctxObj, st)
}

// jresult finishes a JSONata state that has a result (Pass without
// Output has its input): Assign and Output both read the variables as
// they were before the state.
func (s *scope) jresult(v *visit, result any, hasResult bool, ctxObj any) (any, error) {
	st := jstates{input: v.input, result: result, hasResult: hasResult}
	var err error
	if v.assigned, err = s.jassign(v, "Assign", v.st.jassign, ctxObj, st); err != nil {
		return nil, err
	}
	return s.joutputOf(v, ctxObj, st, result)
}
