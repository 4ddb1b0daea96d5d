package asl

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/typo"
	"github.com/velocity-ci/velocity/internal/workflow/intrinsic"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// This file checks single values: strings, numbers in a range, paths,
// timestamps and payload templates.

// wrong reports a value of the wrong type. An unquoted YAML scalar where
// a string belongs gets a hint, since `Version: 1.0` is a float in YAML.
func (v *validator) wrong(n *node, ptr, want string) {
	hint := ""
	if want == "a string" && n.plain && n.kind != kindString {
		hint = " (quote it in YAML)"
	}
	v.r.add(n.pos, ptr, "must be %s, got %s%s", want, n.describe(), hint)
}

// str checks that n is a string and returns it.
func (v *validator) str(n *node, ptr string) (string, bool) {
	if n.kind != kindString {
		v.wrong(n, ptr, "a string")
		return "", false
	}
	return n.text, true
}

// nonEmpty checks that n is a string with some text.
func (v *validator) nonEmpty(n *node, ptr string) (string, bool) {
	s, ok := v.str(n, ptr)
	if ok && s == "" {
		v.r.add(n.pos, ptr, "must not be empty")
		return "", false
	}
	return s, ok
}

func (v *validator) boolean(n *node, ptr string) (bool, bool) {
	if n.kind != kindBool {
		v.wrong(n, ptr, "a boolean (true or false)")
		return false, false
	}
	return n.boolean, true
}

func (v *validator) object(n *node, ptr string) bool {
	if n.kind != kindObject {
		v.wrong(n, ptr, "an object")
		return false
	}
	return true
}

func (v *validator) array(n *node, ptr string) bool {
	if n.kind != kindArray {
		v.wrong(n, ptr, "an array")
		return false
	}
	return true
}

// integer checks that n is an integer in [lo, hi] and returns it.
func (v *validator) integer(n *node, ptr string, lo, hi int64) (int64, bool) {
	i, ok := intValue(n)
	if !ok {
		want := "an integer"
		switch {
		case lo == 0:
			want = "a non-negative integer"
		case lo == 1:
			want = "a positive integer"
		}
		if n.kind == kindNumber && !strings.ContainsAny(n.text, ".eE") {
			v.r.add(n.pos, ptr, "%s is too large (at most %d)", n.text, hi)
			return 0, false
		}
		v.wrong(n, ptr, want)
		return 0, false
	}
	if i < lo || i > hi {
		v.r.add(n.pos, ptr, "must be between %d and %d, got %d", lo, hi, i)
		return 0, false
	}
	return i, true
}

// number checks that n is a number in [lo, hi] and returns it.
func (v *validator) number(n *node, ptr string, lo, hi float64) (float64, bool) {
	if n.kind != kindNumber {
		v.wrong(n, ptr, "a number")
		return 0, false
	}
	f, err := strconv.ParseFloat(n.text, 64)
	if err != nil {
		v.r.add(n.pos, ptr, "%s is out of range", n.text)
		return 0, false
	}
	if math.IsInf(hi, 1) && f < lo {
		v.r.add(n.pos, ptr, "must be at least %s, got %s", fmtFloat(lo), n.text)
		return 0, false
	}
	if f < lo || f > hi {
		v.r.add(n.pos, ptr, "must be between %s and %s, got %s", fmtFloat(lo), fmtFloat(hi), n.text)
		return 0, false
	}
	return f, true
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// enum checks that n is one of the allowed strings.
func (v *validator) enum(n *node, ptr string, allowed ...string) (string, bool) {
	s, ok := v.str(n, ptr)
	if !ok {
		return "", false
	}
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	v.r.add(n.pos, ptr, "must be one of %s, got %q%s", strings.Join(allowed, ", "), s, typo.DidYouMean(s, allowed))
	return "", false
}

// path checks a Path: any JSONPath the States Language accepts,
// including $$ paths into the context object.
func (v *validator) path(n *node, ptr string) bool {
	s, ok := v.str(n, ptr)
	if !ok {
		return false
	}
	if _, err := jsonpath.Parse(s); err != nil {
		v.r.add(n.pos, ptr, "%v", err)
		return false
	}
	return true
}

// reference checks a Reference Path, which names a single node.
// ResultPath may not point into the context object, which is read-only.
func (v *validator) reference(n *node, ptr string, allowContext bool) bool {
	s, ok := v.str(n, ptr)
	if !ok {
		return false
	}
	p, err := jsonpath.ParseReference(s)
	if err != nil {
		v.r.add(n.pos, ptr, "%v", err)
		return false
	}
	if !allowContext && p.IsContext() {
		v.r.add(n.pos, ptr, "%q points into the context object, which cannot be written; use a path starting with $.", s)
		return false
	}
	if !allowContext && p.Variable() != "" {
		v.r.add(n.pos, ptr, "%q names the variable $%s, which cannot be written through a path; set variables with Assign", s, p.Variable())
		return false
	}
	return true
}

// assign checks an Assign object: each key names a variable (with ".$"
// when its value is a path or an intrinsic call), and the values form a
// payload template as Parameters does.
func (v *validator) assign(n *node, ptr string) {
	if !v.object(n, ptr) {
		return
	}
	for _, f := range n.fields {
		name := strings.TrimSuffix(f.key, ".$")
		switch {
		case name == "states":
			v.r.add(f.keyPos, pointerJoin(ptr, f.key), `"states" is reserved by Step Functions ($states); choose another variable name`)
		case !jsonpath.ValidVariableName(name):
			v.r.add(f.keyPos, pointerJoin(ptr, f.key), "%q is not a variable name: it starts with a letter or '_' and holds only letters, digits and '_'", name)
		}
	}
	v.template(n, ptr, true)
}

// nullablePath checks InputPath and OutputPath: a Path, or null for an
// empty object ({}).
func (v *validator) nullablePath(n *node, ptr string) {
	if n.kind != kindNull {
		v.path(n, ptr)
	}
}

// dynamic checks the value of a ".$" field or of ErrorPath/CausePath: a
// Path, or an intrinsic function call.
func (v *validator) dynamic(n *node, ptr string) {
	s, ok := v.str(n, ptr)
	if !ok {
		return
	}
	switch {
	case strings.HasPrefix(s, "States."):
		if _, err := intrinsic.Parse(s); err != nil {
			v.r.add(n.pos, ptr, "invalid intrinsic function call: %v", err)
		}
	case strings.HasPrefix(s, "$"):
		if _, err := jsonpath.Parse(s); err != nil {
			v.r.add(n.pos, ptr, "%v", err)
		}
	default:
		v.r.add(n.pos, ptr, "must be a path starting with $ or an intrinsic function call such as States.Format(...), got %q", s)
	}
}

// template checks a payload template (Parameters, ResultSelector,
// ItemSelector, ...): every field whose name ends in ".$" holds a path or
// an intrinsic call, at any depth. mustBeObject is set for the fields
// that AWS accepts only as objects.
func (v *validator) template(n *node, ptr string, mustBeObject bool) {
	if mustBeObject && !v.object(n, ptr) {
		return
	}
	before := len(v.r.errs)
	v.templateValue(n, ptr)
	if len(v.r.errs) > before {
		return
	}
	// The interpreter compiles the template with package payload; any
	// rule it enforces beyond the ones above is reported here too.
	if _, err := payload.Compile(json.RawMessage(n.json())); err != nil {
		v.r.add(n.pos, ptr, "invalid payload template: %v", err)
	}
}

func (v *validator) templateValue(n *node, ptr string) {
	switch n.kind {
	case kindArray:
		for i, it := range n.items {
			v.templateValue(it, pointerIndex(ptr, i))
		}
	case kindObject:
		plain := map[string]bool{}
		for _, f := range n.fields {
			if !strings.HasSuffix(f.key, ".$") {
				plain[f.key] = true
			}
		}
		for _, f := range n.fields {
			p := pointerJoin(ptr, f.key)
			name, dynamic := strings.CutSuffix(f.key, ".$")
			if !dynamic {
				v.templateValue(f.value, p)
				continue
			}
			if name == "" {
				v.r.add(f.keyPos, p, `field name ".$" has no name before ".$"`)
			}
			if plain[name] {
				v.r.add(f.keyPos, p, "%q and %q would both set field %q; keep one", name, f.key, name)
			}
			if f.value.kind != kindString {
				v.r.add(f.value.pos, p, "a field ending in \".$\" must hold a path or an intrinsic function call as a string, got %s", f.value.describe())
				continue
			}
			v.dynamic(f.value, p)
		}
	}
}

// timestampPattern is AWS's profile of RFC 3339: an uppercase T between
// date and time, and an uppercase Z or a numeric offset.
var timestampPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
})

// isTimestamp reports whether s is a timestamp the States Language accepts.
func isTimestamp(s string) bool {
	if !timestampPattern().MatchString(s) {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

func (v *validator) timestamp(n *node, ptr string) {
	s, ok := v.str(n, ptr)
	if ok && !isTimestamp(s) {
		v.r.add(n.pos, ptr, "%q is not an RFC 3339 timestamp such as 2024-03-14T01:59:00Z (uppercase T and Z, or an offset like +01:00)", s)
	}
}
