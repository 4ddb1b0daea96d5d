package asl

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a definition, located both ways a user looks
// for it: the JSON pointer of the offending field (/States/Check/Next) and
// the line and column where the source writes it.
type Error struct {
	File    string `json:"file"`
	Pointer string `json:"pointer"` // "" for the document as a whole
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

// String returns "FILE:LINE:COL: POINTER: MESSAGE", leaving out the
// pointer for problems with the whole document.
func (e Error) String() string {
	if e.Pointer == "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Col, e.Pointer, e.Message)
}

func (e Error) Error() string { return e.String() }

// Errors holds every problem of a definition in source order, so a user
// fixes them all in one edit.
type Errors []Error

// Error prints one problem a line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}

// pos is a place in the source, 1-based.
type pos struct{ line, col int }

// report gathers the problems of one definition while it is read, so
// that reading carries on past the first one.
type report struct {
	file string
	errs []Error
	// warns are what AWS accepts but is likely a mistake (a duplicate
	// key in JSON, which AWS reads as the last one written).
	warns []Error
}

// warn records something the definition may do but probably did not mean.
func (r *report) warn(p pos, pointer, format string, args ...any) {
	r.warns = append(r.warns, Error{
		File:    r.file,
		Pointer: pointer,
		Line:    p.line,
		Col:     p.col,
		Message: fmt.Sprintf(format, args...),
	})
}

func (r *report) add(p pos, pointer, format string, args ...any) {
	r.errs = append(r.errs, Error{
		File:    r.file,
		Pointer: pointer,
		Line:    p.line,
		Col:     p.col,
		Message: fmt.Sprintf(format, args...),
	})
}

// sorted returns the problems by position. The sort is stable so that
// problems at one position keep the order the checks found them in.
func (r *report) sorted() []Error {
	errs := slices.Clone(r.errs)
	slices.SortStableFunc(errs, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return errs
}

// pointerJoin extends a JSON pointer by one reference token, escaping it
// as RFC 6901 says ("~" is "~0", "/" is "~1").
func pointerJoin(ptr, token string) string {
	token = strings.ReplaceAll(token, "~", "~0")
	token = strings.ReplaceAll(token, "/", "~1")
	return ptr + "/" + token
}

func pointerIndex(ptr string, i int) string {
	return fmt.Sprintf("%s/%d", ptr, i)
}
