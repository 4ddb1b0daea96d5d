package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/column"
)

var _ store.Deployments = (*Store)(nil)

const deploymentColumns = `id, environment, service, release, run_id, commit_sha, status, reason, rollback, definition, files, created, updated`

func scanDeployment(row scanner) (store.Deployment, error) {
	var d store.Deployment
	var status, files string
	var created, updated int64
	if err := row.Scan(&d.ID, &d.Environment, &d.Service, &d.Release, &d.RunID, &d.Commit, &status, &d.Reason,
		&d.Rollback, &d.Definition, &files, &created, &updated); err != nil {
		return d, err
	}
	d.Status = store.DeploymentStatus(status)
	d.Created, d.Updated = fromNanos(created), fromNanos(updated)
	var err error
	if d.Files, err = column.DecodeFiles(files); err != nil {
		return d, fmt.Errorf("deployment %d: files: %w", d.ID, err)
	}
	return d, nil
}

// CreateDeployment implements store.Deployments.
func (s *Store) CreateDeployment(ctx context.Context, d store.Deployment) (int64, error) {
	files, err := column.EncodeFiles(d.Files)
	if err != nil {
		return 0, err
	}
	updated := d.Updated
	if updated.IsZero() {
		updated = d.Created
	}
	var id int64
	err = s.db.QueryRowContext(ctx,
		`INSERT INTO deployments (environment, service, release, run_id, commit_sha, status, reason, rollback, definition, files, created, updated)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		d.Environment, d.Service, d.Release, d.RunID, d.Commit, string(d.Status), d.Reason, d.Rollback,
		orEmpty(d.Definition), files, nanos(d.Created), nanos(updated)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record deployment of %s to %s: %w", d.Service, d.Environment, err)
	}
	return id, nil
}

// SetDeploymentStatus implements store.Deployments.
func (s *Store) SetDeploymentStatus(ctx context.Context, id int64, status store.DeploymentStatus, reason string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE deployments SET status = $1, reason = $2, updated = $3 WHERE id = $4`,
		string(status), reason, nanos(at), id)
	if err != nil {
		return fmt.Errorf("deployment %d %s: %w", id, status, err)
	}
	return checkOne(res, fmt.Sprintf("deployment %d", id))
}

// SetLive implements store.Deployments. The transaction holds an
// advisory lock on the environment's service: two deployments going live
// at once take turns, and the second replaces the first instead of both
// replacing the one before.
func (s *Store) SetLive(ctx context.Context, id int64, replaced store.DeploymentStatus, at time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var env, svc string
		err := tx.QueryRowContext(ctx, `SELECT environment, service FROM deployments WHERE id = $1`, id).Scan(&env, &svc)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("deployment %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := lock(ctx, tx, fmt.Sprintf("velocity live %d:%s/%s", len(env), env, svc)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE deployments SET status = $1, updated = $2 WHERE environment = $3 AND service = $4 AND status = 'live' AND id != $5`,
			string(replaced), nanos(at), env, svc, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE deployments SET status = 'live', updated = $1 WHERE id = $2`, nanos(at), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("deployment %d live: %w", id, err)
	}
	return nil
}

// Deployment implements store.Deployments.
func (s *Store) Deployment(ctx context.Context, id int64) (store.Deployment, error) {
	d, err := scanDeployment(s.db.QueryRowContext(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("deployment %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("deployment %d: %w", id, err)
	}
	return d, nil
}

func (s *Store) queryDeployments(ctx context.Context, query string, args ...any) ([]store.Deployment, error) {
	out, err := queryAll(ctx, s.db, scanDeployment, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	return out, nil
}

// Deployments implements store.Deployments.
func (s *Store) Deployments(ctx context.Context, environment, service string) ([]store.Deployment, error) {
	return s.queryDeployments(ctx, `SELECT `+deploymentColumns+` FROM deployments
		WHERE environment = $1 AND service = $2 ORDER BY id DESC`, environment, service)
}

// EnvironmentDeployments implements store.Deployments.
func (s *Store) EnvironmentDeployments(ctx context.Context, environment string) ([]store.Deployment, error) {
	return s.queryDeployments(ctx, `SELECT `+deploymentColumns+` FROM deployments
		WHERE environment = $1 ORDER BY id`, environment)
}

// LiveDeployments implements store.Deployments.
func (s *Store) LiveDeployments(ctx context.Context) ([]store.Deployment, error) {
	return s.queryDeployments(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE status = 'live' ORDER BY id`)
}

// InterruptDeployments implements store.Deployments: one statement marks
// and returns them.
func (s *Store) InterruptDeployments(ctx context.Context, reason string, at time.Time) ([]store.Deployment, error) {
	out, err := s.queryDeployments(ctx, `WITH d AS (
			UPDATE deployments SET status = $1, reason = $2, updated = $3 WHERE status = 'deploying' RETURNING `+deploymentColumns+`)
		SELECT `+deploymentColumns+` FROM d ORDER BY id`,
		string(store.DeployInterrupted), reason, nanos(at))
	if err != nil {
		return nil, fmt.Errorf("interrupt deployments: %w", err)
	}
	return out, nil
}
