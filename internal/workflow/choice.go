package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// choiceRule is a compiled Choice rule: a comparison of Variable with a
// literal or with another path's value, or And/Or/Not of nested rules.
type choiceRule struct {
	next     string
	and, or  []*choiceRule
	not      *choiceRule
	variable *jsonpath.Path
	// kind is the operator without its "Path" suffix ("StringEquals").
	kind string
	// valuePath is set for …Path operators, literal otherwise.
	valuePath *jsonpath.Path
	literal   any
	matcher   []matchPart
	// assign is a top-level rule's Assign.
	assign *payload.Template
}

func compileChoice(r *asl.ChoiceRule, where string) (*choiceRule, error) {
	c := &choiceRule{next: r.Next}
	switch {
	case len(r.And) > 0 || len(r.Or) > 0:
		for i, sub := range r.And {
			s, err := compileChoice(sub, fmt.Sprintf("%s/And/%d", where, i))
			if err != nil {
				return nil, err
			}
			c.and = append(c.and, s)
		}
		for i, sub := range r.Or {
			s, err := compileChoice(sub, fmt.Sprintf("%s/Or/%d", where, i))
			if err != nil {
				return nil, err
			}
			c.or = append(c.or, s)
		}
		if len(r.And) > 0 {
			c.kind = "And"
		} else {
			c.kind = "Or"
		}
		return c, nil
	case r.Not != nil:
		s, err := compileChoice(r.Not, where+"/Not")
		if err != nil {
			return nil, err
		}
		c.not, c.kind = s, "Not"
		return c, nil
	}
	if r.Operator == "" {
		return nil, definitionError(where, "choice rule without a comparison operator")
	}
	v, err := jsonpath.Parse(r.Variable)
	if err != nil {
		return nil, definitionError(where+"/Variable", "%v", err)
	}
	c.variable = v
	c.kind = r.Operator
	if name, ok := strings.CutSuffix(r.Operator, "Path"); ok && !strings.HasPrefix(r.Operator, "Is") {
		var expr string
		if err := json.Unmarshal(r.Value, &expr); err != nil {
			return nil, definitionError(where+"/"+r.Operator, "want a path string: %v", err)
		}
		if c.valuePath, err = jsonpath.Parse(expr); err != nil {
			return nil, definitionError(where+"/"+r.Operator, "%v", err)
		}
		c.kind = name
		return c, nil
	}
	if c.literal, err = payload.Decode(r.Value); err != nil {
		return nil, definitionError(where+"/"+r.Operator, "%v", err)
	}
	if c.kind == "StringMatches" {
		s, _ := c.literal.(string)
		c.matcher = compileMatch(s)
	}
	return c, nil
}

// invalidChoicePath is the failure Step Functions reports when a rule's Variable or
// …Path operand selects nothing.
func invalidChoicePath(p *jsonpath.Path) *asl.Failure {
	return asl.Failf(asl.ErrRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", p)
}

func (c *choiceRule) eval(input, ctxObj any) (bool, error) {
	switch c.kind {
	case "And":
		for _, s := range c.and {
			ok, err := s.eval(input, ctxObj)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "Or":
		for _, s := range c.or {
			ok, err := s.eval(input, ctxObj)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "Not":
		ok, err := c.not.eval(input, ctxObj)
		return !ok, err
	}
	var v any
	var err error
	if c.kind == "IsPresent" {
		// Step Functions reads an index past the end of an array as
		// null, except that IsPresent finds nothing there.
		v, err = c.variable.GetExisting(input, ctxObj)
	} else {
		v, err = c.variable.Get(input, ctxObj)
	}
	missing := errors.Is(err, jsonpath.ErrNoMatch)
	if err != nil && !missing {
		return false, asFailure(err)
	}
	if c.kind == "IsPresent" {
		want, _ := c.literal.(bool)
		return !missing == want, nil
	}
	if missing {
		return false, invalidChoicePath(c.variable)
	}
	if strings.HasPrefix(c.kind, "Is") {
		want, _ := c.literal.(bool)
		return typeTest(c.kind, v) == want, nil
	}
	operand := c.literal
	if c.valuePath != nil {
		operand, err = c.valuePath.Get(input, ctxObj)
		if errors.Is(err, jsonpath.ErrNoMatch) {
			return false, invalidChoicePath(c.valuePath)
		}
		if err != nil {
			return false, asFailure(err)
		}
	}
	return compare(c.kind, v, operand, c.matcher), nil
}

func typeTest(kind string, v any) bool {
	switch kind {
	case "IsNull":
		return v == nil
	case "IsNumeric":
		_, ok := v.(json.Number)
		if !ok {
			_, ok = v.(float64)
		}
		return ok
	case "IsString":
		_, ok := v.(string)
		return ok
	case "IsBoolean":
		_, ok := v.(bool)
		return ok
	case "IsTimestamp":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, ok = parseTimestamp(s)
		return ok
	}
	return false
}

// compare applies a comparison operator; values of the wrong type never
// match (the spec: a comparison against a value of another type is false).
func compare(kind string, v, operand any, matcher []matchPart) bool {
	var family, op string
	for _, f := range []string{"String", "Numeric", "Boolean", "Timestamp"} {
		if rest, ok := strings.CutPrefix(kind, f); ok {
			family, op = f, rest
			break
		}
	}
	var cmp int
	switch family {
	case "String":
		s, ok := v.(string)
		if !ok {
			return false
		}
		if op == "Matches" {
			return match(matcher, s)
		}
		o, ok := operand.(string)
		if !ok {
			return false
		}
		cmp = strings.Compare(s, o)
	case "Numeric":
		a, ok1 := toRat(v)
		b, ok2 := toRat(operand)
		if !ok1 || !ok2 {
			return false
		}
		cmp = a.Cmp(b)
	case "Boolean":
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && op == "Equals" && a == b
	case "Timestamp":
		s, ok1 := v.(string)
		o, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false
		}
		a, ok1 := parseTimestamp(s)
		b, ok2 := parseTimestamp(o)
		if !ok1 || !ok2 {
			return false
		}
		cmp = a.Compare(b)
	default:
		return false
	}
	switch op {
	case "Equals":
		return cmp == 0
	case "LessThan":
		return cmp < 0
	case "GreaterThan":
		return cmp > 0
	case "LessThanEquals":
		return cmp <= 0
	case "GreaterThanEquals":
		return cmp >= 0
	}
	return false
}

func toRat(v any) (*big.Rat, bool) {
	switch n := v.(type) {
	case json.Number:
		return new(big.Rat).SetString(string(n))
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(n) == nil {
			return nil, false
		}
		return r, true
	case int:
		return new(big.Rat).SetInt64(int64(n)), true
	case int64:
		return new(big.Rat).SetInt64(n), true
	}
	return nil, false
}

// parseTimestamp accepts the spec's timestamp profile of RFC 3339: an
// upper-case T between date and time and an upper-case Z or a numeric offset.
func parseTimestamp(s string) (time.Time, bool) {
	if len(s) < 20 || s[10] != 'T' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// matchPart is a literal run of a StringMatches pattern; star marks a
// '*' wildcard before it.
type matchPart struct {
	star    bool
	literal string
}

// compileMatch splits a StringMatches pattern: '*' matches any run of
// characters, "\*" is a literal star and "\\" a literal backslash.
func compileMatch(pattern string) []matchPart {
	var parts []matchPart
	var cur strings.Builder
	star := false
	for i := 0; i < len(pattern); i++ {
		ch := pattern[i]
		switch {
		case ch == '\\' && i+1 < len(pattern) && (pattern[i+1] == '*' || pattern[i+1] == '\\'):
			cur.WriteByte(pattern[i+1])
			i++
		case ch == '*':
			parts = append(parts, matchPart{star: star, literal: cur.String()})
			cur.Reset()
			star = true
		default:
			cur.WriteByte(ch)
		}
	}
	return append(parts, matchPart{star: star, literal: cur.String()})
}

func match(parts []matchPart, s string) bool {
	// The first part is anchored at the start, the last at the end, the
	// ones between are found greedily left to right (which is enough for
	// a pattern with only '*' wildcards).
	for i, p := range parts {
		last := i == len(parts)-1
		switch {
		case !p.star:
			if !strings.HasPrefix(s, p.literal) {
				return false
			}
			if last {
				return len(s) == len(p.literal)
			}
			s = s[len(p.literal):]
		case last:
			return strings.HasSuffix(s, p.literal)
		default:
			j := strings.Index(s, p.literal)
			if j < 0 {
				return false
			}
			s = s[j+len(p.literal):]
		}
	}
	return true
}

func (s *scope) choice(v *visit) (any, string, error) {
	ctxObj := s.context(v, 0, "")
	in, err := s.effectiveInput(v, ctxObj)
	if err != nil {
		return nil, "", err
	}
	next := ""
	// The developer guide ("Choice workflow state"): the state's Assign
	// applies whichever rule matches, and the rule taken adds its own.
	// Both read the Choice's effective input, before either is written.
	var ruleAssign *payload.Template
	for _, r := range v.st.choices {
		ok, err := r.eval(in, ctxObj)
		if err != nil {
			return nil, "", s.stateFailure(v, err)
		}
		if ok {
			next, ruleAssign = r.next, r.assign
			break
		}
	}
	if next == "" {
		next = v.st.def.Default
	}
	if next == "" {
		return nil, "", asl.Failf(asl.ErrNoChoiceMatched, "No Matches!")
	}
	if v.assigned, err = s.evalAssign(v, v.st.assign, in, ctxObj); err != nil {
		return nil, "", err
	}
	if ruleAssign != nil {
		fromRule, err := s.evalAssign(v, ruleAssign, in, ctxObj)
		if err != nil {
			return nil, "", err
		}
		if v.assigned == nil {
			v.assigned = fromRule
		} else {
			// A name both set takes the rule's value, the more specific.
			v.assigned = v.assigned.Clone()
			for _, m := range fromRule.Members() {
				v.assigned.Set(m.Key, m.Value)
			}
		}
	}
	out, err := s.applyOutputPath(v, in, ctxObj)
	return out, next, err
}
