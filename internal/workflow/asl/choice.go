package asl

import (
	"slices"
	"sort"
	"strings"
)

// operand is what a comparison operator compares the variable with.
type operand int

const (
	operandString operand = iota
	operandPattern
	operandNumber
	operandBool
	operandTimestamp
	operandPath
	operandTest // IsNull, IsPresent, ...: true or false
)

// comparisonOperators are the Choice rule operators and their operands.
var comparisonOperators = map[string]operand{
	"StringEquals": operandString, "StringEqualsPath": operandPath,
	"StringLessThan": operandString, "StringLessThanPath": operandPath,
	"StringGreaterThan": operandString, "StringGreaterThanPath": operandPath,
	"StringLessThanEquals": operandString, "StringLessThanEqualsPath": operandPath,
	"StringGreaterThanEquals": operandString, "StringGreaterThanEqualsPath": operandPath,
	"StringMatches": operandPattern,
	"NumericEquals": operandNumber, "NumericEqualsPath": operandPath,
	"NumericLessThan": operandNumber, "NumericLessThanPath": operandPath,
	"NumericGreaterThan": operandNumber, "NumericGreaterThanPath": operandPath,
	"NumericLessThanEquals": operandNumber, "NumericLessThanEqualsPath": operandPath,
	"NumericGreaterThanEquals": operandNumber, "NumericGreaterThanEqualsPath": operandPath,
	"BooleanEquals": operandBool, "BooleanEqualsPath": operandPath,
	"TimestampEquals": operandTimestamp, "TimestampEqualsPath": operandPath,
	"TimestampLessThan": operandTimestamp, "TimestampLessThanPath": operandPath,
	"TimestampGreaterThan": operandTimestamp, "TimestampGreaterThanPath": operandPath,
	"TimestampLessThanEquals": operandTimestamp, "TimestampLessThanEqualsPath": operandPath,
	"TimestampGreaterThanEquals": operandTimestamp, "TimestampGreaterThanEqualsPath": operandPath,
	"IsNull": operandTest, "IsPresent": operandTest, "IsNumeric": operandTest,
	"IsString": operandTest, "IsBoolean": operandTest, "IsTimestamp": operandTest,
}

// ruleFields are every field a Choice rule may hold, for suggestions.
var ruleFields = func() []string {
	out := []string{"Variable", "Next", "Comment", "And", "Or", "Not", "Assign"}
	for op := range comparisonOperators {
		out = append(out, op)
	}
	sort.Strings(out)
	return out
}()

// choices checks a Choice state's Choices: a non-empty array of rules,
// each with a Next.
func (v *validator) choices(sc *scope, name string, n *node, ptr string) {
	if !v.array(n, ptr) {
		return
	}
	if len(n.items) == 0 {
		v.r.add(n.pos, ptr, "must hold at least one rule")
	}
	for i, rule := range n.items {
		if v.lang == JSONata {
			v.jsonataRule(sc, name, rule, pointerIndex(ptr, i))
			continue
		}
		v.rule(sc, name, rule, pointerIndex(ptr, i), true)
	}
}

// rule checks one Choice rule; top is set for the rules of Choices, which
// must have Next, while rules nested in And, Or and Not must not.
func (v *validator) rule(sc *scope, name string, n *node, ptr string, top bool) {
	if !v.object(n, ptr) {
		return
	}
	v.knownFields(n, ptr, ruleFields, nil)
	if f := n.field("Assign"); f != nil {
		if top {
			v.assign(f.value, pointerJoin(ptr, "Assign"))
		} else {
			v.r.add(f.keyPos, pointerJoin(ptr, "Assign"), `"Assign" belongs on a top-level rule (the one with "Next"), not on a rule nested in And, Or or Not`)
		}
	}
	var ops []*field
	for _, f := range n.fields {
		if _, ok := comparisonOperators[f.key]; ok || f.key == "And" || f.key == "Or" || f.key == "Not" {
			ops = append(ops, f)
		}
	}
	switch {
	case len(ops) == 0:
		v.r.add(n.pos, ptr, "needs a comparison operator such as StringEquals or NumericLessThan, or And, Or or Not")
	case len(ops) > 1:
		names := make([]string, len(ops))
		for i, f := range ops {
			names[i] = f.key
		}
		for _, f := range ops[1:] {
			v.r.add(f.keyPos, pointerJoin(ptr, f.key), "a rule has exactly one operator, this one has %s; combine rules with And or Or", strings.Join(names, ", "))
		}
	}
	variable := n.field("Variable")
	if len(ops) > 0 {
		op := ops[0]
		p := pointerJoin(ptr, op.key)
		switch op.key {
		case "And", "Or":
			if v.array(op.value, p) {
				if len(op.value.items) == 0 {
					v.r.add(op.value.pos, p, "must hold at least one rule")
				}
				for i, sub := range op.value.items {
					v.rule(sc, name, sub, pointerIndex(p, i), false)
				}
			}
		case "Not":
			v.rule(sc, name, op.value, p, false)
		default:
			v.operand(op, p)
			if variable == nil {
				v.r.add(n.pos, ptr, `missing required field "Variable" (the path %s compares)`, op.key)
			}
		}
		if variable != nil && slices.Contains([]string{"And", "Or", "Not"}, op.key) {
			v.r.add(variable.keyPos, pointerJoin(ptr, "Variable"), `a rule with %s has no "Variable"; put it in the nested rules`, op.key)
			variable = nil
		}
	}
	if variable != nil {
		v.path(variable.value, pointerJoin(ptr, "Variable"))
	}
	if c := n.get("Comment"); c != nil {
		v.str(c, pointerJoin(ptr, "Comment"))
	}
	next := n.field("Next")
	switch {
	case top && next == nil:
		v.r.add(n.pos, ptr, `missing required field "Next" (the state to move to when the rule matches)`)
	case top:
		v.transition(sc, name, next.value, pointerJoin(ptr, "Next"))
	case next != nil:
		v.r.add(next.keyPos, pointerJoin(ptr, "Next"), `a rule nested in And, Or or Not has no "Next"; only the rules of Choices do`)
	}
}

// operand checks the value of a comparison operator.
func (v *validator) operand(op *field, ptr string) {
	n := op.value
	switch comparisonOperators[op.key] {
	case operandString:
		v.str(n, ptr)
	case operandPattern:
		if s, ok := v.str(n, ptr); ok {
			v.pattern(n, ptr, s)
		}
	case operandNumber:
		if n.kind != kindNumber {
			v.wrong(n, ptr, "a number")
		}
	case operandBool:
		v.boolean(n, ptr)
	case operandTimestamp:
		v.timestamp(n, ptr)
	case operandPath:
		v.path(n, ptr)
	case operandTest:
		v.boolean(n, ptr)
	}
}

// pattern checks a StringMatches pattern, where "*" matches any text and
// a backslash escapes only "*" or another backslash.
func (v *validator) pattern(n *node, ptr, s string) {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
			v.r.add(n.pos, ptr, `pattern %q has a backslash that escapes neither "*" nor "\"`, s)
			return
		}
		i++
	}
}
