package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	driver "modernc.org/sqlite"

	"github.com/velocity-ci/velocity/internal/store"
)

var _ store.Workflows = (*Store)(nil)

const executionColumns = `id, arn, name, state_machine, definition, input, status, output, error, cause,
	concurrency_key, concurrency_limit, parent, lock, options, stop_requested, stop_error, stop_cause,
	redrive_count, created, started, stopped, redriven`

func scanExecution(row interface{ Scan(...any) error }) (store.Execution, error) {
	var e store.Execution
	var status string
	var stop int
	var created, started, stopped, redriven int64
	err := row.Scan(&e.ID, &e.ARN, &e.Name, &e.StateMachine, &e.Definition, &e.Input, &status, &e.Output,
		&e.Error, &e.Cause, &e.ConcurrencyKey, &e.ConcurrencyLimit, &e.Parent, &e.Lock, &e.Options, &stop,
		&e.StopError, &e.StopCause, &e.RedriveCount, &created, &started, &stopped, &redriven)
	e.Status = store.ExecutionStatus(status)
	e.StopRequested = stop != 0
	e.Created, e.Started, e.Stopped, e.Redriven = fromNanos(created), fromNanos(started), fromNanos(stopped), fromNanos(redriven)
	return e, err
}

// isConstraint reports a UNIQUE or PRIMARY KEY violation.
func isConstraint(err error) bool {
	var se *driver.Error
	// SQLITE_CONSTRAINT_PRIMARYKEY and SQLITE_CONSTRAINT_UNIQUE: other
	// constraint errors (a trigger's RAISE, a foreign key) are not a
	// duplicate, and must not read as one.
	return errors.As(err, &se) && (se.Code() == 1555 || se.Code() == 2067)
}

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// CreateExecution implements store.Workflows.
func (s *Store) CreateExecution(ctx context.Context, e store.Execution) (int64, error) {
	return insertExecution(ctx, s.db, e)
}

// insertExecution records e PENDING at the end of the queue.
func insertExecution(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, e store.Execution) (int64, error) {
	limit := e.ConcurrencyLimit
	if limit <= 0 {
		limit = 1
	}
	res, err := db.ExecContext(ctx,
		`INSERT INTO workflow_executions (arn, name, state_machine, definition, input, status, concurrency_key,
		 concurrency_limit, queue, parent, lock, options, stop_requested, stop_error, stop_cause, created)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(queue), 0) + 1 FROM workflow_executions), ?, ?, ?, ?, ?, ?, ?)`,
		e.ARN, e.Name, e.StateMachine, orEmpty(e.Definition), orEmpty(e.Input), string(store.ExecutionPending),
		e.ConcurrencyKey, limit, e.Parent, e.Lock, orEmpty(e.Options), boolInt(e.StopRequested), e.StopError, e.StopCause,
		nanos(e.Created))
	if isConstraint(err) {
		return 0, fmt.Errorf("execution %s: %w", e.ARN, store.ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("record execution %s: %w", e.ARN, err)
	}
	return res.LastInsertId()
}

// CreateChild implements store.Workflows. The transaction is immediate
// (write-locked), so the count, the check of the parent's stop and the
// insert see no other writer in between: two children started at once
// cannot both take the tree's last place, and a stop of the tree either
// comes before (inherited here) or after (RequestStop finds the child).
func (s *Store) CreateChild(ctx context.Context, e store.Execution, limits store.TreeLimits) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var status, stopError, stopCause, parentError string
		var stop int
		err := tx.QueryRowContext(ctx, `SELECT status, stop_requested, stop_error, stop_cause, error
			FROM workflow_executions WHERE arn = ?`, e.Parent).Scan(&status, &stop, &stopError, &stopCause, &parentError)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("parent execution %s: %w", e.Parent, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		// The parent's ancestors, walked no further than the limit: the
		// last one found is the root, or far enough to refuse. (Below,
		// "x.parent != ''" lets SQLite use the partial index on parent:
		// without it each step of a walk down scanned the whole table, and
		// a Map starting 500 children took 30 s instead of 1.3.)
		var root string
		var depth int
		err = tx.QueryRowContext(ctx, `WITH RECURSIVE up(arn, parent, d) AS (
			SELECT arn, parent, 0 FROM workflow_executions WHERE arn = ?
			UNION ALL
			SELECT x.arn, x.parent, up.d + 1 FROM workflow_executions x JOIN up ON x.arn = up.parent WHERE up.d < ?)
			SELECT arn, d FROM up ORDER BY d DESC LIMIT 1`, e.Parent, limits.Depth()).Scan(&root, &depth)
		if err != nil {
			return err
		}
		if depth+1 > limits.Depth() {
			return &store.TreeLimitError{Limit: "MaxDepth", Value: limits.Depth(), Root: root}
		}
		var n int
		err = tx.QueryRowContext(ctx, `WITH RECURSIVE down(arn) AS (
			SELECT ?
			UNION ALL
			SELECT x.arn FROM workflow_executions x JOIN down ON x.parent = down.arn WHERE x.parent != '')
			SELECT COUNT(*) FROM (SELECT 1 FROM down LIMIT ?)`, root, limits.Executions()).Scan(&n)
		if err != nil {
			return err
		}
		if n >= limits.Executions() {
			return &store.TreeLimitError{Limit: "MaxExecutions", Value: limits.Executions(), Root: root}
		}
		switch {
		case stop != 0:
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

// ClaimExecution implements store.Workflows. The check and the change are
// one statement, and SQLite runs one writer at a time across processes,
// so two claimants can never both take the last slot of a key.
func (s *Store) ClaimExecution(ctx context.Context, id int64, at time.Time) (bool, error) {
	_, err := s.db.ExecContext(ctx,
		`UPDATE workflow_executions AS e SET status = 'RUNNING', started = CASE WHEN started = 0 THEN ? ELSE started END
		 WHERE id = ? AND status = 'PENDING' AND (concurrency_key = '' OR (
		   (SELECT COUNT(*) FROM workflow_executions r
		    WHERE r.concurrency_key = e.concurrency_key AND r.status = 'RUNNING') < e.concurrency_limit
		   AND NOT EXISTS (SELECT 1 FROM workflow_executions p
		    WHERE p.concurrency_key = e.concurrency_key AND p.status = 'PENDING' AND p.queue < e.queue)))`,
		nanos(at), id)
	if err != nil {
		return false, fmt.Errorf("claim execution %d: %w", id, err)
	}
	var status string
	err = s.db.QueryRowContext(ctx, `SELECT status FROM workflow_executions WHERE id = ?`, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("execution %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("claim execution %d: %w", id, err)
	}
	return status == string(store.ExecutionRunning), nil
}

// FinishExecution implements store.Workflows.
func (s *Store) FinishExecution(ctx context.Context, id int64, status store.ExecutionStatus, output []byte, errName, cause string, at time.Time) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE workflow_executions SET status = ?, output = ?, error = ?, cause = ?, stopped = ?
		 WHERE id = ? AND status IN ('PENDING', 'RUNNING')`,
		string(status), output, errName, cause, nanos(at), id)
	if err != nil {
		return fmt.Errorf("finish execution %d: %w", id, err)
	}
	return checkOne(res, fmt.Sprintf("live execution %d", id))
}

// RequestStop implements store.Workflows.
func (s *Store) RequestStop(ctx context.Context, id int64, errName, cause string) (int, error) {
	var below int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE workflow_executions SET stop_requested = 1, stop_error = ?, stop_cause = ?
			 WHERE id = ? AND status IN ('PENDING', 'RUNNING')`, errName, cause, id)
		if err != nil {
			return err
		}
		if err := checkOne(res, fmt.Sprintf("live execution %d", id)); err != nil {
			return err
		}
		var arn string
		if err := tx.QueryRowContext(ctx, `SELECT arn FROM workflow_executions WHERE id = ?`, id).Scan(&arn); err != nil {
			return err
		}
		// Ended executions are walked through too: a child started
		// without .sync may outlive its parent and have live children.
		res, err = tx.ExecContext(ctx,
			`WITH RECURSIVE down(arn) AS (
				SELECT x.arn FROM workflow_executions x WHERE x.parent = ? AND x.parent != ''
				UNION ALL
				SELECT x.arn FROM workflow_executions x JOIN down ON x.parent = down.arn WHERE x.parent != '')
			 UPDATE workflow_executions SET stop_requested = 1, stop_error = ?, stop_cause = ?
			 WHERE stop_requested = 0 AND status IN ('PENDING', 'RUNNING') AND arn IN (SELECT arn FROM down)`,
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
		 stop_requested = 0, stop_error = '', stop_cause = '', lock = ?, redrive_count = redrive_count + 1,
		 redriven = ?, queue = (SELECT MAX(queue) + 1 FROM workflow_executions)
		 WHERE id = ? AND status IN ('FAILED', 'TIMED_OUT', 'ABORTED')`, lock, nanos(at), id)
	if err != nil {
		return fmt.Errorf("redrive execution %d: %w", id, err)
	}
	return checkOne(res, fmt.Sprintf("failed, timed out or aborted execution %d", id))
}

// Execution implements store.Workflows.
func (s *Store) Execution(ctx context.Context, id int64) (store.Execution, error) {
	e, err := scanExecution(s.db.QueryRowContext(ctx, `SELECT `+executionColumns+` FROM workflow_executions WHERE id = ?`, id))
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
	e, err := scanExecution(s.db.QueryRowContext(ctx, `SELECT `+executionColumns+` FROM workflow_executions WHERE arn = ?`, arn))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("execution %s: %w", arn, store.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("execution %s: %w", arn, err)
	}
	return e, nil
}

func (s *Store) queryExecutions(ctx context.Context, query string, args ...any) ([]store.Execution, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	var out []store.Execution
	for rows.Next() {
		e, err := scanExecution(rows)
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Executions implements store.Workflows.
func (s *Store) Executions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var where []string
	var args []any
	if f.StateMachine != "" {
		where, args = append(where, "state_machine = ?"), append(args, f.StateMachine)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.Parent != "" {
		where, args = append(where, "parent = ?"), append(args, f.Parent)
	}
	if f.Name != "" {
		where, args = append(where, "name = ?"), append(args, f.Name)
	}
	q := `SELECT ` + executionColumns + ` FROM workflow_executions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	return s.queryExecutions(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
}

// LiveExecutions implements store.Workflows.
func (s *Store) LiveExecutions(ctx context.Context) ([]store.Execution, error) {
	return s.queryExecutions(ctx, `SELECT `+executionColumns+` FROM workflow_executions
		WHERE status IN ('PENDING', 'RUNNING') ORDER BY id`)
}

// Events implements store.Workflows: the per-event rows written by
// earlier versions and the batch rows, merged in ID order.
func (s *Store) Events(ctx context.Context, executionID int64) ([]store.Event, error) {
	legacy, err := s.legacyEvents(ctx, executionID)
	if err != nil {
		return nil, fmt.Errorf("history of execution %d: %w", executionID, err)
	}
	batched, err := s.batchedEvents(ctx, executionID)
	if err != nil {
		return nil, fmt.Errorf("history of execution %d: %w", executionID, err)
	}
	return mergeHistory(legacy, batched), nil
}

// legacyEvents reads the execution's rows of workflow_events, in ID order.
func (s *Store) legacyEvents(ctx context.Context, executionID int64) ([]store.Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, type, at, body FROM workflow_events WHERE execution_id = ? ORDER BY id`, executionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var at int64
		if err := rows.Scan(&e.ID, &e.Type, &at, &e.Body); err != nil {
			return nil, err
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// batchedEvents reads the execution's rows of workflow_event_batches, in
// ID order.
func (s *Store) batchedEvents(ctx context.Context, executionID int64) ([]store.Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT first_id, last_id, events FROM workflow_event_batches
		WHERE execution_id = ? ORDER BY first_id`, executionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var first, last int64
		var b []byte
		if err := rows.Scan(&first, &last, &b); err != nil {
			return nil, err
		}
		if out, err = decodeRow(out, first, last, b); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// CreateTaskToken implements store.Workflows.
func (s *Store) CreateTaskToken(ctx context.Context, t store.TaskToken) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO workflow_task_tokens (token, execution_id, state, status, created, updated) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Token, t.ExecutionID, t.State, string(store.TokenWaiting), nanos(t.Created), nanos(t.Created))
	if isConstraint(err) {
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
		`UPDATE workflow_task_tokens SET status = ?, output = ?, error = ?, cause = ?, updated = ?
		 WHERE token = ? AND status = 'waiting'`, string(status), output, errName, cause, nanos(at), token)
	if err != nil {
		return fmt.Errorf("complete task token: %w", err)
	}
	return checkOne(res, "waiting task token")
}

// HeartbeatTaskToken implements store.Workflows.
func (s *Store) HeartbeatTaskToken(ctx context.Context, token string, at time.Time) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE workflow_task_tokens SET heartbeat = ?, updated = ? WHERE token = ? AND status = 'waiting'`,
		nanos(at), nanos(at), token)
	if err != nil {
		return fmt.Errorf("task heartbeat: %w", err)
	}
	return checkOne(res, "waiting task token")
}

// TaskToken implements store.Workflows.
func (s *Store) TaskToken(ctx context.Context, token string) (store.TaskToken, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM workflow_task_tokens WHERE token = ?`, token))
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
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM workflow_task_tokens WHERE execution_id = ? ORDER BY created, token`, executionID)
	if err != nil {
		return nil, fmt.Errorf("task tokens of execution %d: %w", executionID, err)
	}
	defer rows.Close()
	var out []store.TaskToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("task tokens of execution %d: %w", executionID, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

const tokenColumns = `token, execution_id, state, status, output, error, cause, heartbeat, created, updated`

func scanToken(row interface{ Scan(...any) error }) (store.TaskToken, error) {
	var t store.TaskToken
	var status string
	var heartbeat, created, updated int64
	err := row.Scan(&t.Token, &t.ExecutionID, &t.State, &status, &t.Output, &t.Error, &t.Cause, &heartbeat, &created, &updated)
	t.Status = store.TokenStatus(status)
	t.Heartbeat, t.Created, t.Updated = fromNanos(heartbeat), fromNanos(created), fromNanos(updated)
	return t, err
}
