package runs

import "context"

// Journaled returns the events of run id after from, as far as the journal and the
// logs hold them now, whether or not a process still executes the run:
// the channel closes once they are delivered. It is what a reader that
// must not wait for a run to go on ('velocity logs' without -f) reads.
func (s *Service) Journaled(ctx context.Context, id int64, from Cursor) (<-chan Event, error) {
	f, err := s.replay(ctx, id)
	if err != nil {
		return nil, err
	}
	return f.watch(ctx, from, false), nil
}
