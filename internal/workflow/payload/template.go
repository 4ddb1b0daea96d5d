package payload

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/failure"
	"github.com/velocity-ci/velocity/internal/workflow/intrinsic"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// Template is a compiled payload template; it is safe for concurrent use.
// Parts without ".$" fields are built once at Compile and shared by every
// result, so results must be treated as read-only (jsonpath.Set copies).
type Template struct {
	root node
}

// node is a constant value, an object with dynamic fields somewhere
// below it, or such an array.
type node struct {
	constant any
	dynamic  bool
	fields   []field // objects
	items    []node  // arrays
	isArray  bool
}

type field struct {
	key  string // output name, without ".$"
	name string // as written, for messages
	path *jsonpath.Path
	call *intrinsic.Call
	sub  *node
}

// CompileError is a template that cannot be compiled; Pointer is the JSON
// pointer of the offending field inside the template.
type CompileError struct {
	Pointer string
	Err     error
}

func (e *CompileError) Error() string {
	if e.Pointer == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s: %v", e.Pointer, e.Err)
}

func (e *CompileError) Unwrap() error { return e.Err }

// Compile compiles a payload template. A ".$" field must hold a string
// that is a path ($..., $$...) or an intrinsic call (States....); two
// fields may not end up with the same name ("a" and "a.$").
func Compile(raw json.RawMessage) (*Template, error) {
	v, err := Decode(raw)
	if err != nil {
		return nil, &CompileError{Err: fmt.Errorf("not valid JSON: %w", err)}
	}
	n, err := compile(v, "")
	if err != nil {
		return nil, err
	}
	return &Template{root: n}, nil
}

func compile(v any, ptr string) (node, error) {
	switch v := v.(type) {
	case *jsonvalue.Object:
		n := node{}
		seen := make(map[string]string, v.Len())
		for name, child := range v.All() {
			at := ptr + "/" + escapePointer(name)
			f := field{key: name, name: name}
			if strings.HasSuffix(name, ".$") {
				f.key = strings.TrimSuffix(name, ".$")
				s, ok := child.(string)
				if !ok {
					return node{}, &CompileError{Pointer: at, Err: fmt.Errorf("the value of %q must be a string holding a path or an intrinsic function call", name)}
				}
				switch {
				case intrinsic.Is(s):
					c, err := intrinsic.Parse(s)
					if err != nil {
						return node{}, &CompileError{Pointer: at, Err: err}
					}
					f.call = c
				case strings.HasPrefix(s, "$"):
					p, err := jsonpath.Parse(s)
					if err != nil {
						return node{}, &CompileError{Pointer: at, Err: err}
					}
					f.path = p
				default:
					return node{}, &CompileError{Pointer: at, Err: fmt.Errorf("the value of %q must be a path starting with $ or an intrinsic function call such as States.Format(...), got %q", name, s)}
				}
				n.dynamic = true
			} else {
				sub, err := compile(child, at)
				if err != nil {
					return node{}, err
				}
				if sub.dynamic {
					n.dynamic = true
				}
				f.sub = &sub
			}
			if other, dup := seen[f.key]; dup {
				return node{}, &CompileError{Pointer: at, Err: fmt.Errorf("fields %q and %q both produce %q", other, name, f.key)}
			}
			seen[f.key] = name
			n.fields = append(n.fields, f)
		}
		if !n.dynamic {
			return node{constant: v}, nil
		}
		n.fields = stepFunctionsOrder(n.fields)
		return n, nil
	case []any:
		n := node{isArray: true}
		for i, x := range v {
			sub, err := compile(x, ptr+"/"+strconv.Itoa(i))
			if err != nil {
				return node{}, err
			}
			if sub.dynamic {
				n.dynamic = true
			}
			n.items = append(n.items, sub)
		}
		if !n.dynamic {
			return node{constant: v}, nil
		}
		return n, nil
	}
	return node{constant: v}, nil
}

// stepFunctionsOrder puts fields in the order Step Functions writes a
// template's result in: the plain fields as written, then the ".$" fields
// in the order of a java.util.HashMap of their names (recorded from AWS:
// {"original_input.$", "iteration_input_value.$", "iteration_index.$",
// "from_input_constant.$", "constant_value"} gives constant_value,
// iteration_input_value, from_input_constant, iteration_index,
// original_input; {"FunctionName.$", "Payload": {...}} gives Payload,
// FunctionName).
func stepFunctionsOrder(fields []field) []field {
	out := make([]field, 0, len(fields))
	byKey := make(map[string]field)
	var dynamic []string
	for _, f := range fields {
		if f.sub != nil {
			out = append(out, f)
			continue
		}
		byKey[f.key] = f
		dynamic = append(dynamic, f.key)
	}
	for _, k := range jsonvalue.JavaHashOrder(dynamic) {
		out = append(out, byKey[k])
	}
	return out
}

// Eval builds the payload from the state input and the context object. A
// path that selects nothing fails with a *failure.Failure named
// States.Runtime, worded as AWS words it; an intrinsic's failure is
// returned as the intrinsic reports it.
func (t *Template) Eval(input, context any) (any, error) {
	return t.root.eval(input, context)
}

func (n *node) eval(input, context any) (any, error) {
	if !n.dynamic {
		return n.constant, nil
	}
	if n.isArray {
		out := make([]any, len(n.items))
		for i := range n.items {
			v, err := n.items[i].eval(input, context)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	// Fields come out in the template's order, as Step Functions writes them.
	out := jsonvalue.NewObject(len(n.fields))
	for i := range n.fields {
		f := &n.fields[i]
		var v any
		var err error
		switch {
		case f.path != nil:
			v, err = f.path.Get(input, context)
			if err != nil {
				if jsonpath.IsUndefinedVariable(err) {
					// AWS documents no wording for this in JSONPath
					// states; the cause names the path, the field and
					// the variable.
					return nil, &failure.Failure{Name: "States.Runtime", Cause: fmt.Sprintf(
						"The JSONPath '%s' specified for the field '%s' could not be found: %v", f.path, f.name, err)}
				}
				if errors.Is(err, jsonpath.ErrNoMatch) {
					where, doc := "input", input
					if f.path.IsContext() {
						where, doc = "context object", jsonpath.ContextObject(context)
					}
					return nil, &failure.Failure{Name: "States.Runtime", Cause: fmt.Sprintf(
						"The JSONPath '%s' specified for the field '%s' could not be found in the %s '%s'",
						f.path, f.name, where, compact(doc))}
				}
				return nil, err
			}
		case f.call != nil:
			v, err = f.call.Eval(input, context)
			if err != nil {
				return nil, err
			}
		default:
			v, err = f.sub.eval(input, context)
			if err != nil {
				return nil, err
			}
		}
		out.Set(f.key, v)
	}
	return out, nil
}

// Decode parses JSON as jsonvalue.Decode does: objects keep their member
// order, numbers are json.Number written as Step Functions holds them
// (1.50 becomes 1.5, 1e2 100.0 and -0 0), so that outputs read as AWS's
// do; anything after the first value is an error.
func Decode(data []byte) (any, error) { return jsonvalue.Decode(data) }

func compact(v any) string {
	b, err := jsonvalue.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
