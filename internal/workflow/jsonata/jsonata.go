package jsonata

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// library is the function library, built once: its values are immutable.
var library = sync.OnceValue(func() map[string]any {
	table := builtins()
	awsFunctions(table)
	lib := make(map[string]any, len(table))
	for name, f := range table {
		lib[name] = f
	}
	return lib
})

// Limits bound what an untrusted expression may cost. The zero value of a
// field means its default.
type Limits struct {
	// MaxExpressionLength is the longest expression Compile accepts, in
	// bytes (default 65536).
	MaxExpressionLength int
	// MaxDepth bounds the nesting of evaluation, which recursive lambdas
	// deepen (default 1000).
	MaxDepth int
	// MaxSteps bounds the nodes one evaluation may visit (default 10 000 000);
	// the context's deadline bounds its time.
	MaxSteps int
	// MaxArrayLength is the longest array or sequence an evaluation may
	// build (default 1 000 000).
	MaxArrayLength int
	// MaxStringLength is the longest string an evaluation may build, in
	// bytes (default 16 MiB).
	MaxStringLength int
}

// Default limits, used for zero fields of Limits.
const (
	DefaultMaxExpressionLength = 64 << 10
	DefaultMaxDepth            = 1000
	DefaultMaxSteps            = 10_000_000
	DefaultMaxArrayLength      = 1_000_000
	DefaultMaxStringLength     = 16 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxExpressionLength <= 0 {
		l.MaxExpressionLength = DefaultMaxExpressionLength
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxSteps <= 0 {
		l.MaxSteps = DefaultMaxSteps
	}
	if l.MaxArrayLength <= 0 {
		l.MaxArrayLength = DefaultMaxArrayLength
	}
	if l.MaxStringLength <= 0 {
		l.MaxStringLength = DefaultMaxStringLength
	}
	return l
}

// Expression is a compiled JSONata expression, safe for concurrent use.
type Expression struct {
	src    string
	root   *node
	limits Limits
}

// Compile parses expr with the default limits.
func Compile(expr string) (*Expression, error) { return CompileWithLimits(expr, Limits{}) }

// CompileWithLimits parses expr; errors are *Error with the JSONata code.
func CompileWithLimits(expr string, limits Limits) (*Expression, error) {
	limits = limits.withDefaults()
	if len(expr) > limits.MaxExpressionLength {
		return nil, limitError(0, "MaxExpressionLength", limits.MaxExpressionLength, fmt.Sprintf("expression length %d", len(expr)))
	}
	root, err := parseLimited(expr, limits)
	if err != nil {
		return nil, jsPosition(err, expr)
	}
	return &Expression{src: expr, root: root, limits: limits}, nil
}

func parseLimited(expr string, limits Limits) (root *node, err error) {
	defer func() {
		// A parser bug must not take down the process either.
		if r := recover(); r != nil {
			root, err = nil, newError(codeInternal, 0, "internal error parsing %q: %v", expr, r)
		}
	}()
	return parse(expr, limits.MaxDepth)
}

// String returns the source text.
func (e *Expression) String() string { return e.src }

// Evaluate runs the expression on input (the workflow's JSON model:
// *jsonvalue.Object, []any, json.Number, string, bool, nil) with bindings
// as variables ($name for key "name"). The result is in the same model,
// numbers as json.Number, or Undefined when there is none. Errors are
// *Error; exceeded limits and a done ctx also wrap ErrLimit.
func (e *Expression) Evaluate(ctx context.Context, input any, bindings map[string]any) (result any, err error) {
	defer func() {
		// A bug here must not take down the process running an untrusted
		// expression; the fuzz targets fail on this code.
		if r := recover(); r != nil {
			result, err = nil, newError(codeInternal, 0, "internal error evaluating %q: %v", e.src, r)
		}
	}()
	ev := &evaluator{ctx: ctx, limits: e.limits, now: float64(time.Now().UnixMilli())}
	// The library frame is shared by all evaluations and never written:
	// bindings and top-level assignments go to the frame below it.
	env := newFrame(&frame{vars: library()})
	for k, v := range bindings {
		env.bind(k, v)
	}
	var in any = input
	if items, ok := input.([]any); ok {
		// As the reference: a top-level array is one input, not a sequence.
		in = &sequence{items: []any{items}, outerWrapper: true}
	}
	env.bind("$", input)
	r, err := ev.eval(e.root, in, env)
	if err != nil {
		return nil, jsPosition(err, e.src)
	}
	if s, ok := r.(*sequence); ok && s.tupleStream {
		return Undefined, nil
	}
	return output(r), nil
}

// jsPosition turns the byte offset of an error into the reference's
// offset, counted in UTF-16 code units as JavaScript counts.
func jsPosition(err error, src string) error {
	if je, ok := err.(*Error); ok && je.Position > 0 && je.Position <= len(src) {
		je.Position = utf16Len(src[:je.Position])
	}
	return err
}
