package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

var (
	_ store.Projects = (*Store)(nil)
	_ store.Requests = (*Store)(nil)
)

const projectColumns = `name, repo, branch, poll, mode, webhook_secret, created, head, alert_webhook`

// CreateProject implements store.Projects. The primary key refuses a
// second project of one name in the insert itself.
func (s *Store) CreateProject(ctx context.Context, p store.Project) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO projects (`+projectColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Name, p.Repo, p.Branch, int64(p.Poll), p.Mode, p.WebhookSecret, nanos(p.Created), p.Head, p.AlertWebhook)
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fault.Conflictf("a project named %s exists", p.Name)
	}
	if err != nil {
		return fmt.Errorf("create project %s: %w", p.Name, err)
	}
	return nil
}

func scanProject(sc scanner) (store.Project, error) {
	var p store.Project
	var poll, created int64
	if err := sc.Scan(&p.Name, &p.Repo, &p.Branch, &poll, &p.Mode, &p.WebhookSecret, &created, &p.Head, &p.AlertWebhook); err != nil {
		return p, err
	}
	p.Poll, p.Created = time.Duration(poll), fromNanos(created)
	return p, nil
}

// Project implements store.Projects.
func (s *Store) Project(ctx context.Context, name string) (store.Project, error) {
	p, err := scanProject(s.db.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("project %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("project %s: %w", name, err)
	}
	return p, nil
}

// Projects implements store.Projects.
func (s *Store) Projects(ctx context.Context) ([]store.Project, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+projectColumns+` FROM projects ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("projects: %w", err)
	}
	defer rows.Close()
	var out []store.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, fmt.Errorf("projects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projects: %w", err)
	}
	return out, nil
}

// UpdateProject implements store.Projects.
func (s *Store) UpdateProject(ctx context.Context, p store.Project) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE projects SET repo = ?, branch = ?, poll = ?, mode = ?, webhook_secret = ?, head = ?, alert_webhook = ? WHERE name = ?`,
		p.Repo, p.Branch, int64(p.Poll), p.Mode, p.WebhookSecret, p.Head, p.AlertWebhook, p.Name)
	if err == nil {
		err = checkOne(res, "project "+p.Name)
	}
	if err != nil {
		return fmt.Errorf("update project %s: %w", p.Name, err)
	}
	return nil
}

// SetProjectHead implements store.Projects.
func (s *Store) SetProjectHead(ctx context.Context, name, head string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE projects SET head = ? WHERE name = ?`, head, name)
	if err == nil {
		err = checkOne(res, "project "+name)
	}
	if err != nil {
		return fmt.Errorf("set head of project %s: %w", name, err)
	}
	return nil
}

// DeleteProject implements store.Projects: the project and its queue go
// in one transaction.
func (s *Store) DeleteProject(ctx context.Context, name string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM projects WHERE name = ?`, name)
		if err == nil {
			err = checkOne(res, "project "+name)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM requests WHERE project = ?`, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete project %s: %w", name, err)
	}
	return nil
}

const requestColumns = `id, project, commit_sha, branch, trigger, state, run, reason, received, updated`

func scanRequest(sc scanner) (store.Request, error) {
	var r store.Request
	var state string
	var received, updated int64
	if err := sc.Scan(&r.ID, &r.Project, &r.Commit, &r.Branch, &r.Trigger, &state, &r.Run, &r.Reason, &received, &updated); err != nil {
		return r, err
	}
	r.State, r.Received, r.Updated = store.RequestState(state), fromNanos(received), fromNanos(updated)
	return r, nil
}

// AddRequest implements store.Requests.
func (s *Store) AddRequest(ctx context.Context, r store.Request) (int64, error) {
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO requests (project, commit_sha, branch, trigger, state, received, updated) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.Project, r.Commit, r.Branch, r.Trigger, string(store.RequestWaiting), nanos(r.Received), nanos(r.Received))
	if err != nil {
		return 0, fmt.Errorf("add request of project %s: %w", r.Project, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("add request of project %s: %w", r.Project, err)
	}
	return id, nil
}

// AddDeliveredRequest implements store.Requests.
func (s *Store) AddDeliveredRequest(ctx context.Context, d store.Delivery, r store.Request) (int64, bool, error) {
	if d.Project == "" || d.ID == "" {
		return 0, false, fault.Invalidf("delivery %q of project %q: project and id are required", d.ID, d.Project)
	}
	var id int64
	seen := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO deliveries (project, id, received) VALUES (?, ?, ?) ON CONFLICT (project, id) DO NOTHING`,
			d.Project, d.ID, nanos(d.Received))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			seen = err == nil
			return err
		}
		res, err = tx.ExecContext(ctx,
			`INSERT INTO requests (project, commit_sha, branch, trigger, state, received, updated) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.Project, r.Commit, r.Branch, r.Trigger, string(store.RequestWaiting), nanos(r.Received), nanos(r.Received))
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("record delivery %s of %s: %w", d.ID, d.Project, err)
	}
	return id, seen, nil
}

// Request implements store.Requests.
func (s *Store) Request(ctx context.Context, id int64) (store.Request, error) {
	return queryRequest(ctx, s.db, id)
}

func queryRequest(ctx context.Context, q queryer, id int64) (store.Request, error) {
	r, err := scanRequest(q.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM requests WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("request %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("request %d: %w", id, err)
	}
	return r, nil
}

// Requests implements store.Requests.
func (s *Store) Requests(ctx context.Context, f store.RequestFilter) ([]store.Request, error) {
	query, args := `SELECT `+requestColumns+` FROM requests WHERE 1 = 1`, []any{}
	if f.Project != "" {
		query, args = query+` AND project = ?`, append(args, f.Project)
	}
	if f.State != "" {
		query, args = query+` AND state = ?`, append(args, string(f.State))
	}
	query += ` ORDER BY id`
	if f.Limit > 0 {
		query, args = query+` LIMIT ?`, append(args, f.Limit)
	}
	return s.queryRequests(ctx, s.db, query, args...)
}

type rowsQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) queryRequests(ctx context.Context, q rowsQueryer, query string, args ...any) ([]store.Request, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	defer rows.Close()
	var out []store.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("requests: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	return out, nil
}

// move changes the state of request id in one statement guarded by
// where, so that of two callers at once only one finds the request as
// where wants it; a request that exists but is not so is a conflict.
func (s *Store) move(ctx context.Context, verb string, id int64, set, where string, args ...any) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE requests SET `+set+` WHERE id = ? AND `+where, append(args, id)...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		r, err := queryRequest(ctx, tx, id)
		if err != nil {
			return err
		}
		return fault.Conflictf("request %d is %s", id, r.State)
	})
	if err != nil {
		return fmt.Errorf("%s request %d: %w", verb, id, err)
	}
	return nil
}

// TakeRequest implements store.Requests.
func (s *Store) TakeRequest(ctx context.Context, id int64, at time.Time) error {
	return s.move(ctx, "take", id, `state = 'started', run = 0, updated = ?`, `state = 'waiting'`, nanos(at))
}

// SetRequestRun implements store.Requests.
func (s *Store) SetRequestRun(ctx context.Context, id, run int64) error {
	return s.move(ctx, "record the run of", id, `run = ?`, `state = 'started' AND run = 0`, run)
}

// FailRequest implements store.Requests.
func (s *Store) FailRequest(ctx context.Context, id int64, reason string, at time.Time) error {
	return s.move(ctx, "fail", id, `state = 'failed', reason = ?, updated = ?`,
		`(state = 'waiting' OR (state = 'started' AND run = 0))`, reason, nanos(at))
}

// SupersedeRequests implements store.Requests: the list and the change
// are one transaction, so the requests returned are exactly those marked.
func (s *Store) SupersedeRequests(ctx context.Context, project string, newer int64, reason string, at time.Time) ([]store.Request, error) {
	var out []store.Request
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.queryRequests(ctx, tx, `SELECT `+requestColumns+` FROM requests WHERE project = ? AND state = 'waiting' AND id < ? ORDER BY id`, project, newer)
		if err != nil || len(out) == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE requests SET state = 'superseded', reason = ?, updated = ? WHERE project = ? AND state = 'waiting' AND id < ?`,
			reason, nanos(at), project, newer)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("supersede requests of %s: %w", project, err)
	}
	for i := range out {
		out[i].State, out[i].Reason, out[i].Updated = store.RequestSuperseded, reason, at
	}
	return out, nil
}

// ReturnUntaken implements store.Requests.
func (s *Store) ReturnUntaken(ctx context.Context, project string, at time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE requests SET state = 'waiting', updated = ? WHERE project = ? AND state = 'started' AND run = 0`,
		nanos(at), project)
	if err != nil {
		return 0, fmt.Errorf("return untaken requests of %s: %w", project, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
