package store

import (
	"context"
	"time"
)

// StateMachine is a named state machine definition, registered through
// the Step Functions API so that executions can be started by its ARN.
type StateMachine struct {
	ARN  string `json:"arn"`
	Name string `json:"name"`
	// Definition is the States Language source (JSON) it was created or
	// last updated with.
	Definition []byte `json:"definition"`
	RoleARN    string `json:"role_arn"`
	// Type is the Step Functions type given at creation, kept as given
	// (STANDARD or EXPRESS; "" for STANDARD) and never updated.
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// StateMachines records state machines, beside the Store in the same
// implementations and checked by the storetest suite
// (RunStateMachines). Methods are safe for concurrent use, also from
// several processes.
type StateMachines interface {
	// CreateStateMachine records m; an ARN already recorded is an error
	// wrapping ErrExists.
	CreateStateMachine(ctx context.Context, m StateMachine) error
	// UpdateStateMachine replaces the definition and role of the state
	// machine m.ARN (not its type) and sets its Updated; an unknown ARN wraps
	// ErrNotFound.
	UpdateStateMachine(ctx context.Context, m StateMachine) error
	// StateMachine returns the state machine with that ARN or an error
	// wrapping ErrNotFound.
	StateMachine(ctx context.Context, arn string) (StateMachine, error)
	// StateMachines lists state machines by name.
	StateMachines(ctx context.Context) ([]StateMachine, error)
	// DeleteStateMachine forgets a state machine; an unknown ARN wraps
	// ErrNotFound.
	DeleteStateMachine(ctx context.Context, arn string) error
}
