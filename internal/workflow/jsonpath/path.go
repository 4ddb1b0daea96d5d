package jsonpath

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// ErrNoMatch is wrapped by every error of a path that selects nothing, and
// of a Set whose path runs through a value that is not an object.
var ErrNoMatch = errors.New("path matches nothing")

// MatchError says why a path selected nothing. Its message is worded like
// Step Functions' own (which shows Jayway's), for example
// "No results for path: $['a']['b']".
type MatchError struct {
	Path   string // the expression as written
	Detail string
	// undefined marks a $name path whose variable has no value.
	undefined bool
}

func (e *MatchError) Error() string { return e.Detail }

// Unwrap makes errors.Is(err, ErrNoMatch) true.
func (e *MatchError) Unwrap() error { return ErrNoMatch }

// Path is a compiled JSONPath expression; it is safe for concurrent use.
type Path struct {
	src     string
	context bool
	// variable is the workflow variable the path starts at ($name), ""
	// for the input or the context object.
	variable string
	segs     []segment
	definite bool
	// length is set when the path ends in Jayway's length() function.
	length bool
}

type segKind uint8

const (
	segName     segKind = iota // .a or ['a']
	segNames                   // ['a','b']
	segWildcard                // .* or [*]
	segIndex                   // [0] or [-1]
	segIndexes                 // [0,2]
	segSlice                   // [1:3]
	segFilter                  // [?(...)]
)

type segment struct {
	kind    segKind
	scan    bool // preceded by ".." (recursive descent)
	name    string
	names   []string
	index   int
	indexes []int
	// slice bounds; hasStart/hasEnd false means open.
	start, end       int
	hasStart, hasEnd bool
	filter           expr
	// upstreamDefinite: every segment before this one selects one node.
	upstreamDefinite bool
}

func (s *segment) definite() bool {
	return !s.scan && (s.kind == segName || s.kind == segIndex)
}

// Parse compiles any ASL Path: $ or $$ followed by dot or bracket
// notation, quoted names, indexes (negative ones count from the end),
// slices, wildcards, unions, ".." and filters such as [?(@.price < 10)].
func Parse(expr string) (*Path, error) { return parse(expr, false) }

// ParseReference compiles a Reference Path: one that can only name a
// single node, so names and non-negative indexes only.
func ParseReference(expr string) (*Path, error) { return parse(expr, true) }

// String returns the expression as written.
func (p *Path) String() string { return p.src }

// IsContext reports whether the path starts at the context object ($$).
func (p *Path) IsContext() bool { return p.context }

// Variable is the name of the workflow variable the path starts at ($name),
// or "".
func (p *Path) Variable() string { return p.variable }

// Env is what a path reads besides the input: the context object ($$) and
// the workflow variables ($name). It is passed where Get takes the context
// object; a plain context object is an Env without variables.
type Env struct {
	Context any
	// Vars looks a variable up; nil means none is defined.
	Vars func(name string) (any, bool)
}

// ContextObject is the context object that context (a context object or
// an *Env) carries.
func ContextObject(context any) any {
	if e, ok := context.(*Env); ok {
		return e.Context
	}
	return context
}

// IsUndefinedVariable reports whether err is a path naming a variable
// that has no value.
func IsUndefinedVariable(err error) bool {
	var m *MatchError
	return errors.As(err, &m) && m.undefined
}

// Definite reports whether the path selects at most one node, so that Get
// returns that node itself rather than an array of matches.
func (p *Path) Definite() bool { return p.definite }

// Get evaluates the path against input, or against context for a $$ path.
// A definite path gives its node; an indefinite one gives a []any of its
// matches (empty when nothing matches below its definite part). A definite
// path that selects nothing is a *MatchError wrapping ErrNoMatch. As in Step
// Functions, an array index past the end at the end of a path gives null.
func (p *Path) Get(input, context any) (any, error) {
	return p.get(input, context, false)
}

// GetExisting is Get, except that an array index past the end selects
// nothing instead of giving null: intrinsic function arguments are resolved
// this way.
func (p *Path) GetExisting(input, context any) (any, error) {
	return p.get(input, context, true)
}

func (p *Path) get(input, context any, strict bool) (any, error) {
	root := input
	env, _ := context.(*Env)
	if env != nil {
		context = env.Context
	}
	if p.context {
		root = context
	}
	if p.variable != "" {
		var ok bool
		if env != nil && env.Vars != nil {
			root, ok = env.Vars(p.variable)
		}
		if !ok {
			return nil, &MatchError{Path: p.src, Detail: "The variable '$" + p.variable + "' is not defined", undefined: true}
		}
	}
	if p.definite {
		v, err := p.getDefinite(root, strict)
		if err != nil {
			return nil, err
		}
		if p.length {
			return lengthOf(p, v)
		}
		return v, nil
	}
	out := []any{}
	if err := p.walk(root, root, 0, &out, strict); err != nil {
		return nil, err
	}
	if p.length {
		return json.Number(strconv.Itoa(len(out))), nil
	}
	return out, nil
}

func lengthOf(p *Path, v any) (any, error) {
	switch v := v.(type) {
	case []any:
		return json.Number(strconv.Itoa(len(v))), nil
	case *jsonvalue.Object:
		return json.Number(strconv.Itoa(v.Len())), nil
	case string:
		return json.Number(strconv.Itoa(len([]rune(v)))), nil
	}
	return nil, &MatchError{Path: p.src, Detail: "Aggregation function attempted to calculate value using empty array"}
}

func (p *Path) getDefinite(root any, strict bool) (any, error) {
	cur := root
	last := len(p.segs) - 1
	for i := range p.segs {
		s := &p.segs[i]
		switch s.kind {
		case segName:
			m, ok := cur.(*jsonvalue.Object)
			if !ok {
				return nil, p.notObject(i, cur)
			}
			v, ok := m.Get(s.name)
			if !ok {
				if i == last {
					return nil, p.noResults()
				}
				return nil, p.missingProperty(i)
			}
			cur = v
		case segNames:
			m, ok := cur.(*jsonvalue.Object)
			if !ok {
				return nil, p.notObject(i, cur)
			}
			cur = pick(m, s.names)
		case segIndex:
			a, ok := cur.([]any)
			if !ok {
				return nil, p.notArray(i, cur)
			}
			idx := s.index
			if idx < 0 {
				idx += len(a)
			}
			if idx < 0 || idx >= len(a) {
				if strict {
					return nil, p.noResults()
				}
				// Jayway reads a missing element as null and carries on.
				cur = nil
				continue
			}
			cur = a[idx]
		}
	}
	return cur, nil
}

// walk applies segments i.. to cur, appending every match to out.
func (p *Path) walk(root, cur any, i int, out *[]any, strict bool) error {
	if i == len(p.segs) {
		*out = append(*out, cur)
		return nil
	}
	if p.segs[i].scan {
		return p.scan(root, cur, i, out, strict)
	}
	return p.step(root, cur, i, out, strict, false)
}

// step applies segment i (ignoring its scan flag) to cur.
func (p *Path) step(root, cur any, i int, out *[]any, strict, scanning bool) error {
	s := &p.segs[i]
	leaf := i == len(p.segs)-1
	switch s.kind {
	case segName:
		m, ok := cur.(*jsonvalue.Object)
		if !ok {
			if s.upstreamDefinite && !scanning {
				return p.notObject(i, cur)
			}
			return nil
		}
		v, ok := m.Get(s.name)
		if !ok {
			// Jayway fails "Missing property in path" here when all
			// before the name is definite ($.missing[*]); Step Functions
			// gives the empty result of the indefinite path instead
			// (recorded executions), so the walk just finds nothing.
			return nil
		}
		return p.walk(root, v, i+1, out, strict)
	case segNames:
		m, ok := cur.(*jsonvalue.Object)
		if !ok {
			return nil
		}
		if leaf {
			// Jayway merges several properties read at the end into one object.
			*out = append(*out, pick(m, s.names))
			return nil
		}
		for _, n := range s.names {
			if v, ok := m.Get(n); ok {
				if err := p.walk(root, v, i+1, out, strict); err != nil {
					return err
				}
			}
		}
	case segWildcard:
		switch c := cur.(type) {
		case *jsonvalue.Object:
			for _, m := range c.Members() {
				if err := p.walk(root, m.Value, i+1, out, strict); err != nil {
					return err
				}
			}
		case []any:
			for _, v := range c {
				if err := p.walk(root, v, i+1, out, strict); err != nil {
					return err
				}
			}
		}
	case segIndex, segIndexes:
		a, ok := cur.([]any)
		if !ok {
			if s.upstreamDefinite && !scanning {
				return p.notArray(i, cur)
			}
			return nil
		}
		idxs := s.indexes
		if s.kind == segIndex {
			idxs = []int{s.index}
		}
		for _, idx := range idxs {
			if idx < 0 {
				idx += len(a)
			}
			var v any
			if idx >= 0 && idx < len(a) {
				v = a[idx]
			} else if strict || scanning {
				continue
			}
			if err := p.walk(root, v, i+1, out, strict); err != nil {
				return err
			}
		}
	case segSlice:
		a, ok := cur.([]any)
		if !ok {
			return nil
		}
		from, to := sliceBounds(s, len(a))
		for j := from; j < to; j++ {
			if err := p.walk(root, a[j], i+1, out, strict); err != nil {
				return err
			}
		}
	case segFilter:
		switch c := cur.(type) {
		case []any:
			for _, v := range c {
				if s.filter.truth(root, v) {
					if err := p.walk(root, v, i+1, out, strict); err != nil {
						return err
					}
				}
			}
		case *jsonvalue.Object:
			if !scanning && s.filter.truth(root, c) {
				return p.walk(root, c, i+1, out, strict)
			}
		}
	}
	return nil
}

// scan applies segment i at cur and at every object and array below it,
// parents before children, members in order.
func (p *Path) scan(root, cur any, i int, out *[]any, strict bool) error {
	if err := p.step(root, cur, i, out, strict, true); err != nil {
		return err
	}
	switch c := cur.(type) {
	case *jsonvalue.Object:
		for _, m := range c.Members() {
			if isContainer(m.Value) {
				if err := p.scan(root, m.Value, i, out, strict); err != nil {
					return err
				}
			}
		}
	case []any:
		for _, v := range c {
			if isContainer(v) {
				if err := p.scan(root, v, i, out, strict); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func isContainer(v any) bool {
	switch v.(type) {
	case *jsonvalue.Object, []any:
		return true
	}
	return false
}

func sliceBounds(s *segment, n int) (int, int) {
	from, to := 0, n
	if s.hasStart {
		from = s.start
		if from < 0 {
			from += n
		}
	}
	if s.hasEnd {
		to = s.end
		if to < 0 {
			to += n
		}
	}
	from = max(0, min(from, n))
	to = max(0, min(to, n))
	if to < from {
		to = from
	}
	return from, to
}

// pick is the object of m's members named in names, in names' order (as
// Jayway builds it); names m does not have are left out.
func pick(m *jsonvalue.Object, names []string) *jsonvalue.Object {
	out := jsonvalue.NewObject(len(names))
	for _, n := range names {
		if v, ok := m.Get(n); ok {
			out.Set(n, v)
		}
	}
	return out
}

// normalized writes segments [0, n) in Jayway's normalized form, $['a'][0].
func (p *Path) normalized(n int) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range p.segs[:n] {
		if s.scan {
			b.WriteString("..")
		}
		switch s.kind {
		case segName:
			b.WriteString("['" + s.name + "']")
		case segNames:
			b.WriteString("['" + strings.Join(s.names, "','") + "']")
		case segWildcard:
			b.WriteString("[*]")
		case segIndex:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case segIndexes:
			parts := make([]string, len(s.indexes))
			for i, x := range s.indexes {
				parts[i] = strconv.Itoa(x)
			}
			b.WriteString("[" + strings.Join(parts, ",") + "]")
		case segSlice:
			b.WriteString("[")
			if s.hasStart {
				b.WriteString(strconv.Itoa(s.start))
			}
			b.WriteString(":")
			if s.hasEnd {
				b.WriteString(strconv.Itoa(s.end))
			}
			b.WriteString("]")
		case segFilter:
			b.WriteString("[?]")
		}
	}
	return b.String()
}

func (p *Path) noResults() error {
	return &MatchError{Path: p.src, Detail: "No results for path: " + p.normalized(len(p.segs))}
}

func (p *Path) missingProperty(i int) error {
	return &MatchError{Path: p.src, Detail: "Missing property in path " + p.normalized(i+1)}
}

func (p *Path) notObject(i int, v any) error {
	prop := p.segs[i].name
	if p.segs[i].kind == segNames {
		prop = strings.Join(p.segs[i].names, "','")
	}
	return &MatchError{Path: p.src, Detail: "Expected to find an object with property ['" + prop +
		"'] in path " + p.normalized(i) + " but found '" + typeName(v) + "'. This is not a json object."}
}

func (p *Path) notArray(i int, v any) error {
	if v == nil {
		return &MatchError{Path: p.src, Detail: "The path " + p.normalized(i) + " is null"}
	}
	idx := p.segs[i].normalizedIndex()
	return &MatchError{Path: p.src, Detail: "Filter: " + idx + " can only be applied to arrays. Current context is: " + compact(v)}
}

func (s *segment) normalizedIndex() string {
	if s.kind == segIndex {
		return "[" + strconv.Itoa(s.index) + "]"
	}
	parts := make([]string, len(s.indexes))
	for i, x := range s.indexes {
		parts[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case *jsonvalue.Object:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64, int, int64:
		return "number"
	}
	return "unknown"
}

// compact renders v as compact JSON for messages.
func compact(v any) string {
	b, err := jsonvalue.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}
