package sqlite

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

func scanDeployment(row interface{ Scan(...any) error }) (store.Deployment, error) {
	var d store.Deployment
	var status, files string
	var rollback int
	var created, updated int64
	if err := row.Scan(&d.ID, &d.Environment, &d.Service, &d.Release, &d.RunID, &d.Commit, &status, &d.Reason,
		&rollback, &d.Definition, &files, &created, &updated); err != nil {
		return d, err
	}
	d.Status = store.DeploymentStatus(status)
	d.Rollback = rollback != 0
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
	if d.Definition == nil {
		d.Definition = []byte{}
	}
	updated := d.Updated
	if updated.IsZero() {
		updated = d.Created
	}
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO deployments (environment, service, release, run_id, commit_sha, status, reason, rollback, definition, files, created, updated)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.Environment, d.Service, d.Release, d.RunID, d.Commit, string(d.Status), d.Reason, boolInt(d.Rollback),
		d.Definition, files, nanos(d.Created), nanos(updated))
	if err != nil {
		return 0, fmt.Errorf("record deployment of %s to %s: %w", d.Service, d.Environment, err)
	}
	return res.LastInsertId()
}

// SetDeploymentStatus implements store.Deployments.
func (s *Store) SetDeploymentStatus(ctx context.Context, id int64, status store.DeploymentStatus, reason string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE deployments SET status = ?, reason = ?, updated = ? WHERE id = ?`,
		string(status), reason, nanos(at), id)
	if err != nil {
		return fmt.Errorf("deployment %d %s: %w", id, status, err)
	}
	return checkOne(res, fmt.Sprintf("deployment %d", id))
}

// SetLive implements store.Deployments.
func (s *Store) SetLive(ctx context.Context, id int64, replaced store.DeploymentStatus, at time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var env, svc string
		err := tx.QueryRowContext(ctx, `SELECT environment, service FROM deployments WHERE id = ?`, id).Scan(&env, &svc)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("deployment %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE deployments SET status = ?, updated = ? WHERE environment = ? AND service = ? AND status = 'live' AND id != ?`,
			string(replaced), nanos(at), env, svc, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE deployments SET status = 'live', updated = ? WHERE id = ?`, nanos(at), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("deployment %d live: %w", id, err)
	}
	return nil
}

// Deployment implements store.Deployments.
func (s *Store) Deployment(ctx context.Context, id int64) (store.Deployment, error) {
	d, err := scanDeployment(s.db.QueryRowContext(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("deployment %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("deployment %d: %w", id, err)
	}
	return d, nil
}

func (s *Store) queryDeployments(ctx context.Context, query string, args ...any) ([]store.Deployment, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	defer rows.Close()
	var out []store.Deployment
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			return nil, fmt.Errorf("list deployments: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Deployments implements store.Deployments.
func (s *Store) Deployments(ctx context.Context, environment, service string) ([]store.Deployment, error) {
	return s.queryDeployments(ctx, `SELECT `+deploymentColumns+` FROM deployments
		WHERE environment = ? AND service = ? ORDER BY id DESC`, environment, service)
}

// EnvironmentDeployments implements store.Deployments.
func (s *Store) EnvironmentDeployments(ctx context.Context, environment string) ([]store.Deployment, error) {
	return s.queryDeployments(ctx, `SELECT `+deploymentColumns+` FROM deployments
		WHERE environment = ? ORDER BY id`, environment)
}

// LiveDeployments implements store.Deployments.
func (s *Store) LiveDeployments(ctx context.Context) ([]store.Deployment, error) {
	return s.queryDeployments(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE status = 'live' ORDER BY id`)
}

// InterruptDeployments implements store.Deployments.
func (s *Store) InterruptDeployments(ctx context.Context, reason string, at time.Time) ([]store.Deployment, error) {
	var out []store.Deployment
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE status = 'deploying' ORDER BY id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			d, err := scanDeployment(rows)
			if err != nil {
				rows.Close()
				return err
			}
			d.Status, d.Reason, d.Updated = store.DeployInterrupted, reason, at
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE deployments SET status = ?, reason = ?, updated = ? WHERE status = 'deploying'`,
			string(store.DeployInterrupted), reason, nanos(at))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("interrupt deployments: %w", err)
	}
	return out, nil
}
