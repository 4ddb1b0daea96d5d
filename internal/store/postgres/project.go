package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
		`INSERT INTO projects (`+projectColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		p.Name, p.Repo, p.Branch, int64(p.Poll), p.Mode, p.WebhookSecret, nanos(p.Created), p.Head, p.AlertWebhook)
	if isUnique(err) {
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
	p, err := scanProject(s.db.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE name = $1`, name))
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
	out, err := queryAll(ctx, s.db, scanProject, `SELECT `+projectColumns+` FROM projects ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("projects: %w", err)
	}
	return out, nil
}

// UpdateProject implements store.Projects.
func (s *Store) UpdateProject(ctx context.Context, p store.Project) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE projects SET repo = $1, branch = $2, poll = $3, mode = $4, webhook_secret = $5, head = $6, alert_webhook = $7 WHERE name = $8`,
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
	res, err := s.db.ExecContext(ctx, `UPDATE projects SET head = $1 WHERE name = $2`, head, name)
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
		res, err := tx.ExecContext(ctx, `DELETE FROM projects WHERE name = $1`, name)
		if err == nil {
			err = checkOne(res, "project "+name)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM requests WHERE project = $1`, name)
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

const insertRequest = `INSERT INTO requests (project, commit_sha, branch, trigger, state, received, updated)
	VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`

// AddRequest implements store.Requests.
func (s *Store) AddRequest(ctx context.Context, r store.Request) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, insertRequest,
		r.Project, r.Commit, r.Branch, r.Trigger, string(store.RequestWaiting), nanos(r.Received)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add request of project %s: %w", r.Project, err)
	}
	return id, nil
}

// AddDeliveredRequest implements store.Requests. Of two transactions
// inserting one delivery, the second waits on the primary key until the
// first ends, then finds the delivery recorded (or, if the first rolled
// back, records it itself).
func (s *Store) AddDeliveredRequest(ctx context.Context, d store.Delivery, r store.Request) (int64, bool, error) {
	if d.Project == "" || d.ID == "" {
		return 0, false, fault.Invalidf("delivery %q of project %q: project and id are required", d.ID, d.Project)
	}
	var id int64
	seen := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO deliveries (project, id, received) VALUES ($1, $2, $3) ON CONFLICT (project, id) DO NOTHING`,
			d.Project, d.ID, nanos(d.Received))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			seen = err == nil
			return err
		}
		return tx.QueryRowContext(ctx, insertRequest,
			r.Project, r.Commit, r.Branch, r.Trigger, string(store.RequestWaiting), nanos(r.Received)).Scan(&id)
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
	r, err := scanRequest(q.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM requests WHERE id = $1`, id))
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
	query, args := `SELECT `+requestColumns+` FROM requests WHERE true`, []any{}
	if f.Project != "" {
		args = append(args, f.Project)
		query += fmt.Sprintf(` AND project = $%d`, len(args))
	}
	if f.State != "" {
		args = append(args, string(f.State))
		query += fmt.Sprintf(` AND state = $%d`, len(args))
	}
	query += ` ORDER BY id`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		query += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	out, err := queryAll(ctx, s.db, scanRequest, query, args...)
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	return out, nil
}

// move changes the state of request id in one statement guarded by
// where: PostgreSQL re-checks where against the row's newest version, so
// of two callers at once only one finds the request as where wants it. A
// request that exists but is not so is a conflict. set and where number
// their arguments from $2 ($1 is the id).
func (s *Store) move(ctx context.Context, verb string, id int64, set, where string, args ...any) error {
	res, err := s.db.ExecContext(ctx, `UPDATE requests SET `+set+` WHERE id = $1 AND `+where, append([]any{id}, args...)...)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			var r store.Request
			if r, err = queryRequest(ctx, s.db, id); err == nil {
				err = fault.Conflictf("request %d is %s", id, r.State)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s request %d: %w", verb, id, err)
	}
	return nil
}

// TakeRequest implements store.Requests.
func (s *Store) TakeRequest(ctx context.Context, id int64, at time.Time) error {
	return s.move(ctx, "take", id, `state = 'started', run = 0, updated = $2`, `state = 'waiting'`, nanos(at))
}

// SetRequestRun implements store.Requests.
func (s *Store) SetRequestRun(ctx context.Context, id, run int64) error {
	return s.move(ctx, "record the run of", id, `run = $2`, `state = 'started' AND run = 0`, run)
}

// FailRequest implements store.Requests.
func (s *Store) FailRequest(ctx context.Context, id int64, reason string, at time.Time) error {
	return s.move(ctx, "fail", id, `state = 'failed', reason = $2, updated = $3`,
		`(state = 'waiting' OR (state = 'started' AND run = 0))`, reason, nanos(at))
}

// SupersedeRequests implements store.Requests: one statement marks the
// requests and returns them, so those returned are exactly those marked.
func (s *Store) SupersedeRequests(ctx context.Context, project string, newer int64, reason string, at time.Time) ([]store.Request, error) {
	out, err := queryAll(ctx, s.db, scanRequest,
		`UPDATE requests SET state = 'superseded', reason = $1, updated = $2 WHERE project = $3 AND state = 'waiting' AND id < $4
		 RETURNING `+requestColumns, reason, nanos(at), project, newer)
	if err != nil {
		return nil, fmt.Errorf("supersede requests of %s: %w", project, err)
	}
	// RETURNING lists rows in no particular order.
	slices.SortFunc(out, func(a, b store.Request) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// ReturnUntaken implements store.Requests.
func (s *Store) ReturnUntaken(ctx context.Context, project string, at time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE requests SET state = 'waiting', updated = $1 WHERE project = $2 AND state = 'started' AND run = 0`,
		nanos(at), project)
	if err != nil {
		return 0, fmt.Errorf("return untaken requests of %s: %w", project, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
