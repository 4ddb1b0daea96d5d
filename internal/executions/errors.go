package executions

import (
	"errors"
	"fmt"
)

// ErrInvalid is the class of errors a request causes: a bad name, file,
// input or state of the execution for what was asked. Adapters test it
// with errors.Is (the command line exits 2); the message is for people.
var ErrInvalid = errors.New("invalid request")

type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }

func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{fmt.Sprintf(format, args...)}
}

// DefinitionError lists the problems of a definition that does not
// satisfy the States Language, each as FILE:LINE:COL: POINTER: MESSAGE.
type DefinitionError struct {
	File     string
	Problems []string
}

func (e *DefinitionError) Error() string {
	return fmt.Sprintf("%s has %d problems", e.File, len(e.Problems))
}

func (e *DefinitionError) Is(target error) bool { return target == ErrInvalid }

// FindReason says why a reference names no single execution.
type FindReason int

const (
	// NoExecutions: "last" was asked and there is none yet.
	NoExecutions FindReason = iota + 1
	// NoSuchID, NoSuchARN, NoSuchName: nothing has that number, ARN or name.
	NoSuchID
	NoSuchARN
	NoSuchName
	// Ambiguous: several executions (of different state machines) have
	// that name.
	Ambiguous
)

// FindError is Find's answer for a reference that names no single
// execution; adapters word it with their own hints.
type FindError struct {
	Ref    string
	ID     int64 // for NoSuchID
	Reason FindReason
}

func (e *FindError) Error() string {
	switch e.Reason {
	case NoExecutions:
		return "no workflow executions yet"
	case NoSuchID:
		return fmt.Sprintf("execution %d not found", e.ID)
	case NoSuchARN:
		return fmt.Sprintf("execution %s not found", e.Ref)
	case Ambiguous:
		return fmt.Sprintf("several executions are named %q", e.Ref)
	}
	return fmt.Sprintf("no execution numbered or named %q", e.Ref)
}

func (e *FindError) Is(target error) bool { return target == ErrInvalid }
