package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

var _ store.ScheduleFires = (*Store)(nil)

// RecordFire implements store.ScheduleFires. One upsert whose update is
// conditional on the recorded due time being earlier: PostgreSQL locks
// the row and checks the condition against its newest version, so the
// statement is the test and the write at once, and of several servers
// recording one due time exactly one changes the row.
func (s *Store) RecordFire(ctx context.Context, project, schedule string, due time.Time) (bool, error) {
	if project == "" || schedule == "" || due.IsZero() {
		return false, fault.Invalidf("fire of schedule %q of project %q due %v: project, schedule and due time are required", schedule, project, due)
	}
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO schedule_fires (project, schedule, due) VALUES ($1, $2, $3)
		 ON CONFLICT (project, schedule) DO UPDATE SET due = excluded.due WHERE schedule_fires.due < excluded.due`,
		project, schedule, due.UnixNano())
	if err != nil {
		return false, fmt.Errorf("record fire of schedule %s of %s: %w", schedule, project, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record fire of schedule %s of %s: %w", schedule, project, err)
	}
	return n == 1, nil
}

// LastFire implements store.ScheduleFires.
func (s *Store) LastFire(ctx context.Context, project, schedule string) (time.Time, bool, error) {
	var due int64
	err := s.db.QueryRowContext(ctx, `SELECT due FROM schedule_fires WHERE project = $1 AND schedule = $2`,
		project, schedule).Scan(&due)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("last fire of schedule %s of %s: %w", schedule, project, err)
	}
	return time.Unix(0, due), true, nil
}

// ForgetFires implements store.ScheduleFires.
func (s *Store) ForgetFires(ctx context.Context, project string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM schedule_fires WHERE project = $1`, project); err != nil {
		return fmt.Errorf("forget schedule fires of %s: %w", project, err)
	}
	return nil
}
