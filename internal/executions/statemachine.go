package executions

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// StateMachines is the registry of named state machines that the Step
// Functions API creates and starts executions of. Their definitions are
// checked like a definition file's.
type StateMachines struct {
	Store store.StateMachines
	// Dir is where the local commands of their executions run and their
	// relative paths resolve, as the directory of a definition file.
	Dir string
}

// The types of state machine, as Step Functions names them. Velocity
// runs both alike, durably; the Step Functions API tells them apart
// where AWS does (StartSyncExecution takes EXPRESS ones only).
const (
	StandardType = "STANDARD"
	ExpressType  = "EXPRESS"
)

// TypeOf is a state machine's type; those recorded before types were
// are STANDARD.
func TypeOf(m store.StateMachine) string {
	if m.Type == "" {
		return StandardType
	}
	return m.Type
}

// Create registers a state machine of type typ (StandardType when
// empty, or ExpressType); a bad name, type or definition is ErrInvalid
// (the definition's a *DefinitionError), a name already registered
// wraps store.ErrExists.
func (r *StateMachines) Create(ctx context.Context, name string, definition []byte, roleARN, typ string) (store.StateMachine, error) {
	if err := checkName(name); err != nil {
		return store.StateMachine{}, invalidf("state machine name %q: %v", name, err)
	}
	if typ == "" {
		typ = StandardType
	}
	if typ != StandardType && typ != ExpressType {
		return store.StateMachine{}, &typeError{invalidError{fmt.Sprintf("type %q is neither %s nor %s", typ, StandardType, ExpressType)}}
	}
	if _, err := ParseDefinition(name, definition); err != nil {
		return store.StateMachine{}, err
	}
	now := time.Now()
	m := store.StateMachine{ARN: StateMachineARN(name), Name: name, Definition: definition, RoleARN: roleARN, Type: typ, Created: now, Updated: now}
	if err := r.Store.CreateStateMachine(ctx, m); err != nil {
		return store.StateMachine{}, err
	}
	return m, nil
}

// Update replaces a state machine's definition (when not empty) and
// role (when not empty); executions already started keep theirs. An
// unknown ARN wraps store.ErrNotFound.
func (r *StateMachines) Update(ctx context.Context, arn string, definition []byte, roleARN string) (store.StateMachine, error) {
	m, err := r.Store.StateMachine(ctx, arn)
	if err != nil {
		return m, err
	}
	if len(definition) > 0 {
		if _, err := ParseDefinition(m.Name, definition); err != nil {
			return m, err
		}
		m.Definition = definition
	}
	if roleARN != "" {
		m.RoleARN = roleARN
	}
	m.Updated = time.Now()
	return m, r.Store.UpdateStateMachine(ctx, m)
}

// Describe gives the state machine with that ARN; an unknown one wraps
// store.ErrNotFound.
func (r *StateMachines) Describe(ctx context.Context, arn string) (store.StateMachine, error) {
	return r.Store.StateMachine(ctx, arn)
}

// List lists the state machines by name.
func (r *StateMachines) List(ctx context.Context) ([]store.StateMachine, error) {
	return r.Store.StateMachines(ctx)
}

// Delete forgets a state machine; its executions stay.
func (r *StateMachines) Delete(ctx context.Context, arn string) error {
	return r.Store.DeleteStateMachine(ctx, arn)
}

// Definition is the state machine's definition as Start takes it, as
// if read from a file named after it in Dir.
func (r *StateMachines) Definition(m store.StateMachine) (*Definition, error) {
	file := m.Name + ".asl.json"
	d, err := ParseDefinition(file, m.Definition)
	if err != nil {
		return nil, err
	}
	d.Path = filepath.Join(r.Dir, file)
	if !filepath.IsAbs(d.Path) {
		if d.Path, err = filepath.Abs(d.Path); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Background runs the execution in this process in its own goroutine,
// bounded by the service's context (Close waits for it); p hears of its
// progress. Like Wait or Detach, it is called once. The channel closes
// once the execution stops running here: it ended (and its end is
// recorded), or the service was abandoned and it stays resumable.
func (r *Run) Background(p Progress) <-chan struct{} {
	return r.s.runInBackground(r.Execution, r.lock, p)
}

// typeError is a state machine type that is not one: ErrInvalid, and
// told apart by adapters that name it (IsTypeError).
type typeError struct{ invalidError }

// IsTypeError tells whether err is Create's refusal of a type.
func IsTypeError(err error) bool {
	var t *typeError
	return errors.As(err, &t)
}

// existsError is a request naming an execution that exists already:
// ErrInvalid, and store.ErrExists for adapters that name it apart
// (ExecutionAlreadyExists).
type existsError struct{ invalidError }

func (e *existsError) Is(target error) bool { return target == ErrInvalid || target == store.ErrExists }
