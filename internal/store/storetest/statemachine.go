package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// RunStateMachines runs the state machines' suite; open returns an
// empty store for each subtest.
func RunStateMachines(t *testing.T, open func(t *testing.T) store.StateMachines) {
	t.Run("Lifecycle", func(t *testing.T) { testStateMachineLifecycle(t, open(t)) })
	t.Run("UnknownIsNotFound", func(t *testing.T) { testStateMachineNotFound(t, open(t)) })
}

// A state machine is created, read back as recorded, listed by name,
// updated in place (its type kept) and deleted; a second create of its ARN is refused.
func testStateMachineLifecycle(t *testing.T, s store.StateMachines) {
	m := store.StateMachine{ARN: "arn:sm:b", Name: "b", Definition: []byte(`{"StartAt":"P"}`), RoleARN: "arn:role", Type: "EXPRESS",
		Created: time.Unix(10, 0), Updated: time.Unix(10, 0)}
	if err := s.CreateStateMachine(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateStateMachine(ctx, store.StateMachine{ARN: "arn:sm:a", Name: "a", Definition: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateStateMachine(ctx, m); !errors.Is(err, store.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	got, err := s.StateMachine(ctx, "arn:sm:b")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "b" || string(got.Definition) != `{"StartAt":"P"}` || got.RoleARN != "arn:role" || got.Type != "EXPRESS" || !got.Created.Equal(m.Created) {
		t.Errorf("read %+v, want %+v", got, m)
	}
	list, err := s.StateMachines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" {
		t.Errorf("listed %+v, want a then b", list)
	}
	m.Definition, m.Updated = []byte(`{"StartAt":"Q"}`), time.Unix(20, 0)
	if err := s.UpdateStateMachine(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, _ = s.StateMachine(ctx, "arn:sm:b")
	if string(got.Definition) != `{"StartAt":"Q"}` || !got.Updated.Equal(time.Unix(20, 0)) || !got.Created.Equal(time.Unix(10, 0)) || got.Type != "EXPRESS" {
		t.Errorf("after update %+v", got)
	}
	if err := s.DeleteStateMachine(ctx, "arn:sm:b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StateMachine(ctx, "arn:sm:b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("read after delete: %v, want ErrNotFound", err)
	}
}

func testStateMachineNotFound(t *testing.T, s store.StateMachines) {
	if _, err := s.StateMachine(ctx, "arn:none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("read: %v", err)
	}
	if err := s.UpdateStateMachine(ctx, store.StateMachine{ARN: "arn:none"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update: %v", err)
	}
	if err := s.DeleteStateMachine(ctx, "arn:none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete: %v", err)
	}
}
