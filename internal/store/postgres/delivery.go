package postgres

import (
	"context"
	"fmt"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

var _ store.Deliveries = (*Store)(nil)

// RecordDelivery implements store.Deliveries. The primary key makes the
// insert itself the test: of two inserts of one pair at once, the second
// waits for the first and then does nothing.
func (s *Store) RecordDelivery(ctx context.Context, d store.Delivery) (bool, error) {
	if d.Project == "" || d.ID == "" {
		return false, fault.Invalidf("delivery %q of project %q: project and id are required", d.ID, d.Project)
	}
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO deliveries (project, id, received) VALUES ($1, $2, $3) ON CONFLICT (project, id) DO NOTHING`,
		d.Project, d.ID, nanos(d.Received))
	if err != nil {
		return false, fmt.Errorf("record delivery %s of %s: %w", d.ID, d.Project, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record delivery %s of %s: %w", d.ID, d.Project, err)
	}
	return n == 0, nil
}
