package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

var _ store.Workflows = (*Store)(nil)

const executionColumns = `id, arn, name, state_machine, definition, input, status, output, error, cause,
	concurrency_key, concurrency_limit, parent, lock, options, stop_requested, stop_error, stop_cause,
	redrive_count, created, started, stopped, redriven`

func scanExecution(row scanner) (store.Execution, error) {
	var e store.Execution
	var status string
	var created, started, stopped, redriven int64
	err := row.Scan(&e.ID, &e.ARN, &e.Name, &e.StateMachine, &e.Definition, &e.Input, &status, &e.Output,
		&e.Error, &e.Cause, &e.ConcurrencyKey, &e.ConcurrencyLimit, &e.Parent, &e.Lock, &e.Options, &e.StopRequested,
		&e.StopError, &e.StopCause, &e.RedriveCount, &created, &started, &stopped, &redriven)
	e.Status = store.ExecutionStatus(status)
	e.Created, e.Started, e.Stopped, e.Redriven = fromNanos(created), fromNanos(started), fromNanos(stopped), fromNanos(redriven)
	return e, err
}

// CreateExecution implements store.Workflows.
func (s *Store) CreateExecution(ctx context.Context, e store.Execution) (int64, error) {
	return insertExecution(ctx, s.db, e)
}

// insertExecution records e PENDING at the end of the queue (the queue
// column's sequence).
func insertExecution(ctx context.Context, q queryer, e store.Execution) (int64, error) {
	limit := e.ConcurrencyLimit
	if limit <= 0 {
		limit = 1
	}
	var id int64
	err := q.QueryRowContext(ctx,
		`INSERT INTO workflow_executions (arn, name, state_machine, definition, input, status, concurrency_key,
		 concurrency_limit, parent, lock, options, stop_requested, stop_error, stop_cause, created)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
		e.ARN, e.Name, e.StateMachine, orEmpty(e.Definition), orEmpty(e.Input), string(store.ExecutionPending),
		e.ConcurrencyKey, limit, e.Parent, e.Lock, orEmpty(e.Options), e.StopRequested, e.StopError, e.StopCause,
		nanos(e.Created)).Scan(&id)
	if isUnique(err) {
		return 0, fmt.Errorf("execution %s: %w", e.ARN, store.ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("record execution %s: %w", e.ARN, err)
	}
	return id, nil
}

// upSQL walks from execution $1 (an ARN) up its parents, $2 steps at
// most, and returns the last one found and how far up it is.
const upSQL = `WITH RECURSIVE up(arn, parent, d) AS (
	SELECT arn, parent, 0 FROM workflow_executions WHERE arn = $1
	UNION ALL
	SELECT x.arn, x.parent, up.d + 1 FROM workflow_executions x JOIN up ON x.arn = up.parent WHERE up.d < $2)
	SELECT arn, d FROM up ORDER BY d DESC LIMIT 1`

// lockTree takes the advisory lock of the tree whose root is root: the
// creation of a child (its count and the check of its parent's stop) and
// a stop of the tree take turns, as they do under SQLite's single writer.
func lockTree(ctx context.Context, tx *sql.Tx, root string) error {
	return lock(ctx, tx, "velocity tree "+root)
}

// CreateChild implements store.Workflows. The root is found first (an
// execution's ancestors never change), its tree locked, and only then
// the tree counted and the parent's stop read: two children started at
// once cannot both take the tree's last place, and a stop of the tree
// comes either before (inherited here) or after (RequestStop finds the
// child).
func (s *Store) CreateChild(ctx context.Context, e store.Execution, limits store.TreeLimits) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var root string
		var depth int
		err := tx.QueryRowContext(ctx, upSQL, e.Parent, limits.Depth()).Scan(&root, &depth)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("parent execution %s: %w", e.Parent, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if depth+1 > limits.Depth() {
			return &store.TreeLimitError{Limit: "MaxDepth", Value: limits.Depth(), Root: root}
		}
		if err := lockTree(ctx, tx, root); err != nil {
			return err
		}
		var n int
		err = tx.QueryRowContext(ctx, `WITH RECURSIVE down(arn) AS (
			SELECT $1::text
			UNION ALL
			SELECT x.arn FROM workflow_executions x JOIN down ON x.parent = down.arn WHERE x.parent != '')
			SELECT COUNT(*) FROM (SELECT 1 FROM down LIMIT $2) t`, root, limits.Executions()).Scan(&n)
		if err != nil {
			return err
		}
		if n >= limits.Executions() {
			return &store.TreeLimitError{Limit: "MaxExecutions", Value: limits.Executions(), Root: root}
		}
		var status, stopError, stopCause, parentError string
		var stop bool
		err = tx.QueryRowContext(ctx, `SELECT status, stop_requested, stop_error, stop_cause, error
			FROM workflow_executions WHERE arn = $1`, e.Parent).Scan(&status, &stop, &stopError, &stopCause, &parentError)
		if err != nil {
			return err
		}
		switch {
		case stop:
			e.StopRequested, e.StopError = true, stopError
			e.StopCause = stoppedWith(e.Parent, stopCause)
		case status == string(store.ExecutionAborted):
			e.StopRequested, e.StopError = true, parentError
			e.StopCause = stoppedWith(e.Parent, "it was aborted")
		}
		id, err = insertExecution(ctx, tx, e)
		return err
	})
	return id, err
}

// stoppedWith is the stop cause of an execution stopped because an
// execution above it was.
func stoppedWith(arn, cause string) string {
	if cause == "" {
		return "stopped with execution " + arn
	}
	return fmt.Sprintf("stopped with execution %s: %s", arn, cause)
}

// ClaimExecution implements store.Workflows. The claim of an execution
// with a concurrency key holds the key's advisory lock, so the count of
// running executions and the change are not interleaved with another
// claim of the key, from this process or another.
func (s *Store) ClaimExecution(ctx context.Context, id int64, at time.Time) (bool, error) {
	var status string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var key string
		err := tx.QueryRowContext(ctx, `SELECT concurrency_key FROM workflow_executions WHERE id = $1`, id).Scan(&key)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("execution %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if key != "" {
			if err := lock(ctx, tx, "velocity key "+key); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE workflow_executions AS e SET status = 'RUNNING', started = CASE WHEN started = 0 THEN $1 ELSE started END
			 WHERE id = $2 AND status = 'PENDING' AND (concurrency_key = '' OR (
			   (SELECT COUNT(*) FROM workflow_executions r
			    WHERE r.concurrency_key = e.concurrency_key AND r.status = 'RUNNING') < e.concurrency_limit
			   AND NOT EXISTS (SELECT 1 FROM workflow_executions p
			    WHERE p.concurrency_key = e.concurrency_key AND p.status = 'PENDING' AND p.queue < e.queue)))`,
			nanos(at), id); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT status FROM workflow_executions WHERE id = $1`, id).Scan(&status)
	})
	if err != nil {
		return false, fmt.Errorf("claim execution %d: %w", id, err)
	}
	return status == string(store.ExecutionRunning), nil
}

// FinishExecution implements store.Workflows.
func (s *Store) FinishExecution(ctx context.Context, id int64, status store.ExecutionStatus, output []byte, errName, cause string, at time.Time) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE workflow_executions SET status = $1, output = $2, error = $3, cause = $4, stopped = $5
		 WHERE id = $6 AND status IN ('PENDING', 'RUNNING')`,
		string(status), output, errName, cause, nanos(at), id)
	if err != nil {
		return fmt.Errorf("finish execution %d: %w", id, err)
	}
	return checkOne(res, fmt.Sprintf("live execution %d", id))
}

// RequestStop implements store.Workflows, holding the tree's lock (see
// CreateChild).
func (s *Store) RequestStop(ctx context.Context, id int64, errName, cause string) (int, error) {
	var below int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var arn string
		err := tx.QueryRowContext(ctx, `SELECT arn FROM workflow_executions WHERE id = $1`, id).Scan(&arn)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("live execution %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var root string
		var depth int
		if err := tx.QueryRowContext(ctx, upSQL, arn, math.MaxInt32).Scan(&root, &depth); err != nil {
			return err
		}
		if err := lockTree(ctx, tx, root); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx,
			`UPDATE workflow_executions SET stop_requested = true, stop_error = $1, stop_cause = $2
			 WHERE id = $3 AND status IN ('PENDING', 'RUNNING')`, errName, cause, id)
		if err != nil {
			return err
		}
		if err := checkOne(res, fmt.Sprintf("live execution %d", id)); err != nil {
			return err
		}
		// Ended executions are walked through too: a child started
		// without .sync may outlive its parent and have live children.
		res, err = tx.ExecContext(ctx,
			`WITH RECURSIVE down(arn) AS (
				SELECT x.arn FROM workflow_executions x WHERE x.parent = $1 AND x.parent != ''
				UNION ALL
				SELECT x.arn FROM workflow_executions x JOIN down ON x.parent = down.arn WHERE x.parent != '')
			 UPDATE workflow_executions SET stop_requested = true, stop_error = $2, stop_cause = $3
			 WHERE NOT stop_requested AND status IN ('PENDING', 'RUNNING') AND arn IN (SELECT arn FROM down)`,
			arn, errName, stoppedWith(arn, cause))
		if err != nil {
			return err
		}
		below, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("stop execution %d: %w", id, err)
	}
	return int(below), nil
}

// Redrive implements store.Workflows.
func (s *Store) Redrive(ctx context.Context, id int64, lock string, at time.Time) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE workflow_executions SET status = 'PENDING', output = NULL, error = '', cause = '', stopped = 0,
		 stop_requested = false, stop_error = '', stop_cause = '', lock = $1, redrive_count = redrive_count + 1,
		 redriven = $2, queue = nextval('workflow_queue')
		 WHERE id = $3 AND status IN ('FAILED', 'TIMED_OUT', 'ABORTED')`, lock, nanos(at), id)
	if err != nil {
		return fmt.Errorf("redrive execution %d: %w", id, err)
	}
	return checkOne(res, fmt.Sprintf("failed, timed out or aborted execution %d", id))
}

// Execution implements store.Workflows.
func (s *Store) Execution(ctx context.Context, id int64) (store.Execution, error) {
	e, err := scanExecution(s.db.QueryRowContext(ctx, `SELECT `+executionColumns+` FROM workflow_executions WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("execution %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("execution %d: %w", id, err)
	}
	return e, nil
}

// ExecutionByARN implements store.Workflows.
func (s *Store) ExecutionByARN(ctx context.Context, arn string) (store.Execution, error) {
	e, err := scanExecution(s.db.QueryRowContext(ctx, `SELECT `+executionColumns+` FROM workflow_executions WHERE arn = $1`, arn))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("execution %s: %w", arn, store.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("execution %s: %w", arn, err)
	}
	return e, nil
}

func (s *Store) queryExecutions(ctx context.Context, query string, args ...any) ([]store.Execution, error) {
	out, err := queryAll(ctx, s.db, scanExecution, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	return out, nil
}

// Executions implements store.Workflows.
func (s *Store) Executions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var where []string
	var args []any
	for _, c := range []struct{ column, value string }{
		{"state_machine", f.StateMachine}, {"status", string(f.Status)}, {"parent", f.Parent}, {"name", f.Name},
	} {
		if c.value != "" {
			args = append(args, c.value)
			where = append(where, fmt.Sprintf("%s = $%d", c.column, len(args)))
		}
	}
	q := `SELECT ` + executionColumns + ` FROM workflow_executions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	return s.queryExecutions(ctx, q+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
}

// LiveExecutions implements store.Workflows.
func (s *Store) LiveExecutions(ctx context.Context) ([]store.Execution, error) {
	return s.queryExecutions(ctx, `SELECT `+executionColumns+` FROM workflow_executions
		WHERE status IN ('PENDING', 'RUNNING') ORDER BY id`)
}

// AppendEvents implements store.Workflows. Each call is one statement,
// all its events or none; calls from many goroutines run side by side
// on the pool's connections, and PostgreSQL groups their commits' WAL
// flushes itself (there is no single writer to queue behind, as in
// SQLite, so no group commit of its own).
func (s *Store) AppendEvents(ctx context.Context, executionID int64, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	ids, ats := make([]int64, len(events)), make([]int64, len(events))
	types, bodies := make([]string, len(events)), make([][]byte, len(events))
	for i, e := range events {
		ids[i], ats[i], types[i], bodies[i] = e.ID, nanos(e.At), e.Type, orEmpty(e.Body)
	}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO workflow_events (execution_id, id, type, at, body)
		 SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bytea[])`,
		executionID, ids, types, ats, bodies)
	if isUnique(err) {
		return fmt.Errorf("append events of execution %d: events %d to %d: %w", executionID, ids[0], ids[len(ids)-1], store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("append events of execution %d: %w", executionID, err)
	}
	return nil
}

// Events implements store.Workflows.
func (s *Store) Events(ctx context.Context, executionID int64) ([]store.Event, error) {
	out, err := queryAll(ctx, s.db, func(row scanner) (store.Event, error) {
		var e store.Event
		var at int64
		err := row.Scan(&e.ID, &e.Type, &at, &e.Body)
		e.At = fromNanos(at)
		return e, err
	}, `SELECT id, type, at, body FROM workflow_events WHERE execution_id = $1 ORDER BY id`, executionID)
	if err != nil {
		return nil, fmt.Errorf("history of execution %d: %w", executionID, err)
	}
	return out, nil
}

// CreateTaskToken implements store.Workflows.
func (s *Store) CreateTaskToken(ctx context.Context, t store.TaskToken) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO workflow_task_tokens (token, execution_id, state, status, created, updated) VALUES ($1, $2, $3, $4, $5, $5)`,
		t.Token, t.ExecutionID, t.State, string(store.TokenWaiting), nanos(t.Created))
	if isUnique(err) {
		return fmt.Errorf("task token: %w", store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("record task token of %s: %w", t.State, err)
	}
	return nil
}

// CompleteTaskToken implements store.Workflows.
func (s *Store) CompleteTaskToken(ctx context.Context, token string, status store.TokenStatus, output []byte, errName, cause string, at time.Time) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE workflow_task_tokens SET status = $1, output = $2, error = $3, cause = $4, updated = $5
		 WHERE token = $6 AND status = 'waiting'`, string(status), output, errName, cause, nanos(at), token)
	if err != nil {
		return fmt.Errorf("complete task token: %w", err)
	}
	return checkOne(res, "waiting task token")
}

// HeartbeatTaskToken implements store.Workflows.
func (s *Store) HeartbeatTaskToken(ctx context.Context, token string, at time.Time) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE workflow_task_tokens SET heartbeat = $1, updated = $1 WHERE token = $2 AND status = 'waiting'`,
		nanos(at), token)
	if err != nil {
		return fmt.Errorf("task heartbeat: %w", err)
	}
	return checkOne(res, "waiting task token")
}

// TaskToken implements store.Workflows.
func (s *Store) TaskToken(ctx context.Context, token string) (store.TaskToken, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM workflow_task_tokens WHERE token = $1`, token))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("task token: %w", store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("task token: %w", err)
	}
	return t, nil
}

// TaskTokens implements store.Workflows.
func (s *Store) TaskTokens(ctx context.Context, executionID int64) ([]store.TaskToken, error) {
	out, err := queryAll(ctx, s.db, scanToken,
		`SELECT `+tokenColumns+` FROM workflow_task_tokens WHERE execution_id = $1 ORDER BY created, token COLLATE "C"`, executionID)
	if err != nil {
		return nil, fmt.Errorf("task tokens of execution %d: %w", executionID, err)
	}
	return out, nil
}

const tokenColumns = `token, execution_id, state, status, output, error, cause, heartbeat, created, updated`

func scanToken(row scanner) (store.TaskToken, error) {
	var t store.TaskToken
	var status string
	var heartbeat, created, updated int64
	err := row.Scan(&t.Token, &t.ExecutionID, &t.State, &status, &t.Output, &t.Error, &t.Cause, &heartbeat, &created, &updated)
	t.Status = store.TokenStatus(status)
	t.Heartbeat, t.Created, t.Updated = fromNanos(heartbeat), fromNanos(created), fromNanos(updated)
	return t, err
}
