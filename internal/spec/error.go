package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a definition file, pointing at the node that
// caused it so editors and terminals can jump there.
type Error struct {
	File string
	Line int
	Col  int
	// Path names the offending field, e.g. stages[0].actions[2].needs; empty
	// for problems with the file as a whole.
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Col, e.Path, e.Msg)
}

// Errors holds every problem of one file, sorted by position, so a user
// fixes them all in one edit instead of one per run.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find an individual *Error.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// collector gathers the errors of one file while it is read, so that
// reading carries on past the first problem.
type collector struct {
	file string
	errs Errors
}

func (c *collector) add(p Pos, path, format string, args ...any) {
	c.errs = append(c.errs, &Error{
		File: c.file,
		Line: p.Line,
		Col:  p.Col,
		Path: path,
		Msg:  fmt.Sprintf(format, args...),
	})
}

// err returns the collected errors in file order, or nil when there are
// none. The sort is stable so that errors at one position keep the order
// in which the checks found them.
func (c *collector) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	errs := slices.Clone(c.errs)
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return errs
}
