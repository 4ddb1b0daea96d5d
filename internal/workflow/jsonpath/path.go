// Package jsonpath evaluates the JSONPath subset of the Amazon States
// Language: Paths (which may select several nodes) and Reference Paths
// (which name exactly one node and can be written to by Set).
package jsonpath

import "errors"

// ErrNoMatch is wrapped by every error of a path that selects nothing, or
// of a Set whose path runs through a value that is not an object.
var ErrNoMatch = errors.New("path matches nothing")

// Path is a compiled JSONPath expression; it is safe for concurrent use.
type Path struct {
	src     string
	context bool
}

// Parse compiles any ASL Path.
func Parse(expr string) (*Path, error) { return nil, errors.New("not implemented") }

// ParseReference compiles a Reference Path: names and non-negative indexes only.
func ParseReference(expr string) (*Path, error) { return nil, errors.New("not implemented") }

// String returns the expression as written.
func (p *Path) String() string { return p.src }

// IsContext reports whether the path starts at the context object ($$).
func (p *Path) IsContext() bool { return p.context }

// Definite reports whether the path selects at most one node.
func (p *Path) Definite() bool { return true }

// Get evaluates the path against input, or against context for $$ paths.
func (p *Path) Get(input, context any) (any, error) { return nil, errors.New("not implemented") }

// Set returns doc with value placed at ref (ResultPath semantics).
func Set(doc any, ref *Path, value any) (any, error) { return nil, errors.New("not implemented") }
