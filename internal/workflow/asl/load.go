package asl

import (
	"errors"

	"github.com/velocity-ci/velocity/internal/yamllimit"
)

// MaxDefinitionSize is the largest definition read, in bytes (limit "max
// definition size"): the size AWS Step Functions allows, checked before
// parsing since parsing is what a huge source makes costly.
const MaxDefinitionSize = 1 << 20

// ReadFile reads the definition file at path, reading no more than
// MaxDefinitionSize+1 bytes of it. A larger file gives Errors naming the
// limit; other failures are the file system's errors.
func ReadFile(path string) ([]byte, error) {
	src, err := yamllimit.ReadFile(path, MaxDefinitionSize)
	if se := sizeError(path, err); se != nil {
		return nil, se
	}
	return src, err
}

// sizeError turns a *yamllimit.SizeError into Errors, or returns nil.
func sizeError(file string, err error) error {
	var se *yamllimit.SizeError
	if !errors.As(err, &se) {
		return nil
	}
	return Errors{{File: file, Line: se.Line, Col: se.Col, Message: se.Error()}}
}

// Load validates a definition in JSON or YAML and decodes it: the way to
// read a definition a user wrote. When it breaks any rule the error is
// Errors, listing every problem with its location, and the StateMachine
// is nil.
func Load(file string, src []byte) (*StateMachine, error) {
	if err := sizeError(file, yamllimit.CheckSize(src, MaxDefinitionSize)); err != nil {
		return nil, err
	}
	r := &report{file: file}
	root := parseSource(r, src)
	if root != nil {
		validateTree(r, root)
	}
	if root == nil || len(r.errs) > 0 {
		return nil, Errors(r.sorted())
	}
	// Validate accepts only definitions Decode can read, so this cannot
	// fail unless the two disagree; the error then still names the spot.
	sm, err := decodeTree(r, root)
	if sm != nil {
		sm.Warnings = r.warns
	}
	return sm, err
}
