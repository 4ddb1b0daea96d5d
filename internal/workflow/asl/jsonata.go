package asl

import (
	"slices"
	"strings"

	"github.com/velocity-ci/velocity/internal/typo"
	"github.com/velocity-ci/velocity/internal/workflow/jsonata"
)

// This file checks states written in the JSONata query language
// ("Transforming data with JSONata in Step Functions", AWS Step Functions
// developer guide): their fields, their "{% expression %}" strings, and
// the rule that a machine whose top level is JSONata holds no JSONPath
// state.

// JSONata and JSONPath name the query languages.
const (
	JSONata  = "JSONata"
	JSONPath = "JSONPath"
)

// jsonataStateFields lists the fields each state type accepts in JSONata.
var jsonataStateFields = map[string][]string{
	TypePass:     fieldSet(commonFields, flowFields, assignFields, []string{"Output"}),
	TypeTask:     fieldSet(commonFields, flowFields, errorFields, assignFields, []string{"Resource", "Arguments", "Output", "TimeoutSeconds", "HeartbeatSeconds", "Credentials"}),
	TypeChoice:   fieldSet(commonFields, assignFields, []string{"Choices", "Default", "Output"}),
	TypeWait:     fieldSet(commonFields, flowFields, assignFields, []string{"Seconds", "Timestamp", "Output"}),
	TypeSucceed:  fieldSet(commonFields, []string{"Output"}),
	TypeFail:     fieldSet(commonFields, []string{"Error", "Cause"}),
	TypeParallel: fieldSet(commonFields, flowFields, errorFields, assignFields, []string{"Branches", "Arguments", "Output"}),
	TypeMap: fieldSet(commonFields, flowFields, errorFields, assignFields, []string{"ItemProcessor", "Items", "ItemSelector",
		"MaxConcurrency", "ToleratedFailurePercentage", "ToleratedFailureCount", "Label", "Output", "ItemReader", "ItemBatcher", "ResultWriter"}),
}

// jsonPathOnly names, for each field a JSONata state may not hold, what
// takes its place there.
var jsonPathOnly = map[string]string{
	"InputPath":                      `use $states.input in "Arguments" or "Output"`,
	"Parameters":                     `use "Arguments"`,
	"ResultSelector":                 `use "Output" with $states.result`,
	"ResultPath":                     `use "Output" or "Assign"`,
	"OutputPath":                     `use "Output"`,
	"Result":                         `use "Output"`,
	"TimeoutSecondsPath":             `write "TimeoutSeconds" as a {% %} expression`,
	"HeartbeatSecondsPath":           `write "HeartbeatSeconds" as a {% %} expression`,
	"SecondsPath":                    `write "Seconds" as a {% %} expression`,
	"TimestampPath":                  `write "Timestamp" as a {% %} expression`,
	"ItemsPath":                      `use "Items"`,
	"MaxConcurrencyPath":             `write "MaxConcurrency" as a {% %} expression`,
	"ToleratedFailurePercentagePath": `write "ToleratedFailurePercentage" as a {% %} expression`,
	"ToleratedFailureCountPath":      `write "ToleratedFailureCount" as a {% %} expression`,
	"ErrorPath":                      `write "Error" as a {% %} expression`,
	"CausePath":                      `write "Cause" as a {% %} expression`,
	"Iterator":                       `use "ItemProcessor"`,
}

// jsonPathHint says what replaces JSONPath field key in a JSONata state
// of type typ: the hint of jsonPathOnly, narrowed to the fields that
// type has, or that the type has no such field in JSONPath either.
func jsonPathHint(typ, key string) string {
	if !slices.Contains(stateFields[typ], key) {
		return "a " + typ + " state does not take it in JSONPath either"
	}
	switch {
	case key == "Parameters" && typ == TypePass:
		return `use "Output"`
	case key == "Parameters" && typ == TypeMap:
		return `use "ItemSelector"`
	case key == "InputPath" && typ == TypeMap:
		return `use $states.input in "Items", "ItemSelector" or "Output"`
	case key == "InputPath" && typ != TypeTask && typ != TypeParallel:
		return `use $states.input in "Output"`
	}
	return jsonPathOnly[key]
}

// ExpressionText returns the expression of a "{% expression %}" string.
func ExpressionText(s string) (string, bool) {
	inner, ok := strings.CutPrefix(s, "{%")
	if !ok {
		return "", false
	}
	inner, ok = strings.CutSuffix(inner, "%}")
	return inner, ok
}

// stateLanguage is the query language of state n, inheriting the top
// level's; it reports a JSONPath state in a JSONata machine.
func (v *validator) stateLanguage(n *node, ptr string) string {
	q := n.get("QueryLanguage")
	if q == nil || q.kind != kindString {
		return v.topLang
	}
	if q.text == JSONPath && v.topLang == JSONata {
		v.r.add(q.pos, pointerJoin(ptr, "QueryLanguage"), `a state cannot use JSONPath when the top-level QueryLanguage is JSONata; remove this field or set the top level to JSONPath`)
	}
	switch q.text {
	case JSONata, JSONPath:
		return q.text
	}
	return v.topLang
}

// jsonataFieldsOK reports the fields of JSONata state n it does not accept.
func (v *validator) jsonataFieldsOK(n *node, ptr, typ string) {
	allowed := jsonataStateFields[typ]
	for _, f := range n.fields {
		if slices.Contains(allowed, f.key) {
			continue
		}
		p := pointerJoin(ptr, f.key)
		switch {
		case jsonPathOnly[f.key] != "":
			v.r.add(f.keyPos, p, "field %q belongs to the JSONPath query language and is not allowed in a JSONata state; %s", f.key, jsonPathHint(typ, f.key))
		default:
			owner := ""
			for _, t := range stateTypes {
				if t != typ && slices.Contains(jsonataStateFields[t], f.key) {
					owner = "field " + quote(f.key) + " is not allowed in a " + typ + " state"
					break
				}
			}
			if owner != "" {
				v.r.add(f.keyPos, p, "%s", owner)
			} else {
				v.r.add(f.keyPos, p, "unknown field %q%s", f.key, typo.DidYouMean(f.key, allowed))
			}
		}
	}
}

// jsonataField checks the value of one field of a JSONata state; it
// returns false for the fields it leaves to the JSONPath checks.
func (v *validator) jsonataField(f *field, ptr string) bool {
	n := f.value
	switch f.key {
	case "Arguments", "ItemSelector", "Credentials":
		// AWS takes an object, or one expression giving the whole value.
		if n.kind != kindObject && !v.jsonataExpr(n, ptr, false) {
			v.r.add(n.pos, ptr, `must be an object or a "{%% expression %%}"`)
			break
		}
		v.jsonataTemplate(n, ptr)
	case "Output":
		v.jsonataTemplate(n, ptr)
	case "Assign":
		if v.object(n, ptr) {
			v.assign(n, ptr)
			v.jsonataTemplate(n, ptr)
		}
	case "Items":
		if n.kind != kindArray && !v.jsonataExpr(n, ptr, false) {
			v.r.add(n.pos, ptr, `must be an array or a "{%% expression %%}" giving one`)
		}
		v.jsonataTemplate(n, ptr)
	case "TimeoutSeconds", "HeartbeatSeconds", "Seconds", "MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage", "Timestamp", "Error", "Cause":
		if n.kind != kindString {
			return false
		}
		if !v.jsonataExpr(n, ptr, false) && f.key != "Timestamp" && f.key != "Error" && f.key != "Cause" {
			v.r.add(n.pos, ptr, `must be a number or a "{%% expression %%}", got %q`, n.text)
		}
	default:
		return false
	}
	return true
}

// jsonataExpr compiles n when it is a "{% expression %}" string,
// reporting a syntax error; it returns whether n is one.
func (v *validator) jsonataExpr(n *node, ptr string, _ bool) bool {
	if n.kind != kindString {
		return false
	}
	src, ok := ExpressionText(n.text)
	if !ok {
		return false
	}
	e, err := jsonata.Compile(src)
	if err != nil {
		v.r.add(n.pos, ptr, "invalid JSONata expression: %v", err)
		return true
	}
	// Expressions run with no context item; AWS refuses a definition
	// that reads one.
	for _, ref := range e.ContextReferences() {
		v.r.add(n.pos, ptr, "UNSUPPORTED_JSONATA_EXPRESSION: Reference to '%s' at the top level is not supported; read the input as $states.input.%s, or a variable as $%s", ref.Name, ref.Name, ref.Name)
	}
	return true
}

// jsonataTemplate checks every expression inside a JSONata value.
func (v *validator) jsonataTemplate(n *node, ptr string) {
	switch n.kind {
	case kindString:
		v.jsonataExpr(n, ptr, false)
	case kindArray:
		for i, it := range n.items {
			v.jsonataTemplate(it, pointerIndex(ptr, i))
		}
	case kindObject:
		for _, f := range n.fields {
			p := pointerJoin(ptr, f.key)
			if strings.HasSuffix(f.key, ".$") {
				v.r.add(f.keyPos, p, `a key ending in ".$" belongs to the JSONPath query language; in a JSONata state write %q with the value as "{%% expression %%}"`, strings.TrimSuffix(f.key, ".$"))
			}
			v.jsonataTemplate(f.value, p)
		}
	}
}

// jsonataSize checks, in a JSONata state, a size of the ItemReader or
// ItemBatcher written as a string: it must be a "{% expression %}",
// evaluated when the Map runs. It reports whether n was such a string;
// a number is left to the caller.
func (v *validator) jsonataSize(n *node, ptr string) bool {
	if v.lang != JSONata || n.kind != kindString {
		return false
	}
	if !v.jsonataExpr(n, ptr, false) {
		v.r.add(n.pos, ptr, `must be a number or a "{%% expression %%}", got %q`, n.text)
	}
	return true
}

// jsonPathOnlyIn refuses a JSONPath-only field of a nested object of a
// JSONata state; it reports whether the field may be checked further.
func (v *validator) jsonPathOnlyIn(f *field, ptr, instead string) bool {
	if v.lang != JSONata {
		return true
	}
	v.r.add(f.keyPos, ptr, "field %q belongs to the JSONPath query language and is not allowed in a JSONata state; %s", f.key, instead)
	return false
}

// jsonataRule checks a rule of a JSONata Choice: a Condition and Next
// (and optionally Assign, Output and Comment), no JSONPath comparison.
func (v *validator) jsonataRule(sc *scope, name string, n *node, ptr string) {
	if !v.object(n, ptr) {
		return
	}
	for _, f := range n.fields {
		p := pointerJoin(ptr, f.key)
		switch f.key {
		case "Condition":
			if !v.jsonataExpr(f.value, p, false) {
				v.r.add(f.value.pos, p, `must be a "{%% expression %%}" giving true or false`)
			}
		case "Next":
			v.transition(sc, name, f.value, p)
		case "Assign", "Output":
			v.jsonataField(f, p)
		case "Comment":
			v.str(f.value, p)
		default:
			if _, op := comparisonOperators[f.key]; op || f.key == "Variable" || f.key == "And" || f.key == "Or" || f.key == "Not" {
				v.r.add(f.keyPos, p, "field %q belongs to the JSONPath query language and is not allowed in a JSONata Choice rule; use \"Condition\"", f.key)
			} else {
				v.r.add(f.keyPos, p, "unknown field %q%s", f.key, typo.DidYouMean(f.key, []string{"Condition", "Next", "Assign", "Output", "Comment"}))
			}
		}
	}
	if n.get("Condition") == nil {
		v.r.add(n.pos, ptr, `missing required field "Condition" (a "{%% expression %%}" giving true or false)`)
	}
	if n.get("Next") == nil {
		v.r.add(n.pos, ptr, `missing required field "Next" (the state to move to when the rule matches)`)
	}
}

// jsonataCatcher checks a Catcher of a JSONata state.
func (v *validator) jsonataCatcher(sc *scope, name string, c *node, p string, last bool) {
	allowed := fieldSet([]string{"ErrorEquals", "Next", "Comment", "Assign", "Output"})
	for _, f := range c.fields {
		fp := pointerJoin(p, f.key)
		switch f.key {
		case "Assign", "Output":
			v.jsonataField(f, fp)
		case "Next":
			v.transition(sc, name, f.value, fp)
		case "Comment":
			v.str(f.value, fp)
		case "ErrorEquals":
		case "ResultPath":
			v.r.add(f.keyPos, fp, `field "ResultPath" belongs to the JSONPath query language and is not allowed in a JSONata Catcher; use "Output" with $states.errorOutput`)
		default:
			v.r.add(f.keyPos, fp, "unknown field %q%s", f.key, typo.DidYouMean(f.key, allowed))
		}
	}
	v.errorEquals(c, p, last, "Catcher")
	if c.get("Next") == nil {
		v.r.add(c.pos, p, `missing required field "Next" (the state to move to when the error is caught)`)
	}
}
