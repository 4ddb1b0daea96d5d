package runs

import (
	"context"
	"fmt"
	"strings"

	"github.com/velocity-ci/velocity/internal/store"
)

// Details is everything the journal holds about one run.
type Details struct {
	Run       store.Run
	Actions   []store.Action
	Approvals []store.Approval
	Attempts  []store.Attempt
}

// List returns past runs, newest first.
func (s *Service) List(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	return s.cfg.Store.Runs(ctx, f)
}

// Show returns run id with its actions, approvals and attempts.
func (s *Service) Show(ctx context.Context, id int64) (Details, error) {
	var d Details
	var err error
	if d.Run, err = s.cfg.Store.Run(ctx, id); err != nil {
		return d, err
	}
	if d.Actions, err = s.cfg.Store.Actions(ctx, id); err != nil {
		return d, err
	}
	if d.Approvals, err = s.cfg.Store.Approvals(ctx, id); err != nil {
		return d, err
	}
	d.Attempts, err = s.cfg.Store.Attempts(ctx, id)
	return d, err
}

// Find resolves a reference to a run: its number ("12", "#12") or
// "last" (or "") for the newest. Errors: ErrInvalid for a reference that
// names no run.
func (s *Service) Find(ctx context.Context, ref string) (store.Run, error) {
	if ref == "" || ref == "last" {
		runs, err := s.cfg.Store.Runs(ctx, store.RunFilter{Limit: 1})
		if err != nil {
			return store.Run{}, err
		}
		if len(runs) == 0 {
			return store.Run{}, invalidf("no runs yet in %s: start one with 'velocity run'", s.cfg.DataDir)
		}
		return runs[0], nil
	}
	var id int64
	if _, err := fmt.Sscan(strings.TrimPrefix(ref, "#"), &id); err != nil || id <= 0 {
		return store.Run{}, invalidf("%q is not a run number (see 'velocity runs')", ref)
	}
	r, err := s.cfg.Store.Run(ctx, id)
	if err != nil {
		return r, &InvalidError{Err: fmt.Errorf("run %d not found in %s (see 'velocity runs')", id, s.cfg.DataDir)}
	}
	return r, nil
}
