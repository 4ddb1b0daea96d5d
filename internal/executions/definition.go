package executions

import (
	"errors"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// ParseDefinition checks a definition given as text, named file in its
// problems. One that does not satisfy the States Language is a
// *DefinitionError; every error is ErrInvalid.
func ParseDefinition(file string, src []byte) (*Definition, error) {
	sm, err := asl.Load(file, src)
	if err != nil {
		var errs asl.Errors
		if errors.As(err, &errs) {
			lines := make([]string, len(errs))
			for i, e := range errs {
				lines[i] = e.String()
			}
			return nil, &DefinitionError{File: file, Problems: lines}
		}
		return nil, invalidf("%s: %v", file, err)
	}
	warnings := make([]string, len(sm.Warnings))
	for i, w := range sm.Warnings {
		warnings[i] = w.String()
	}
	return &Definition{File: file, Source: src, States: countStates(sm), Warnings: warnings}, nil
}
