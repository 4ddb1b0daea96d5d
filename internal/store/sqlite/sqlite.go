// Package sqlite is the default Store: one SQLite file in the data
// directory, in WAL mode so that `velocity runs` can read while a run writes.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	driver "modernc.org/sqlite"

	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/column"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a store.Store on SQLite.
type Store struct {
	db *sql.DB
	// Statements of the per-attempt hot path, prepared once: parsing SQL
	// again for every attempt cost a third of the journal's time.
	insertAttempt, finishAttempt *sql.Stmt
	// handover records an attempt's end and the next one's start
	// (RecordAttempts). Prepared on first use: compiling its view and
	// trigger at Open would slow every command, and a run of a single
	// action never uses it.
	handoverOnce sync.Once
	handover     *sql.Stmt
	handoverErr  error
	// lastSuccess is read for every action that misses the cache after an
	// earlier success; preparing it once takes most of its cost away. It
	// is prepared on first use: at Open it would slow every command.
	lastSuccessOnce sync.Once
	lastSuccess     *sql.Stmt
	lastSuccessErr  error
	// journal groups concurrent workflow event appends into one commit.
	journal groupCommit
}

var (
	_ store.Store           = (*Store)(nil)
	_ store.AttemptRecorder = (*Store)(nil)
)

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	// Switching a new database to WAL and creating its schema can fail with
	// SQLITE_BUSY without waiting when two processes do it at once, so
	// set-up is serialised by an flock beside the database.
	unlock, err := lockSetup(path + ".setup-lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	// SQLite creates a database with mode 0644, and its -wal and -shm
	// files with the database's mode: made here first, all three are
	// private.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	f.Close()

	// synchronous=NORMAL in WAL mode keeps every commit across a crash of
	// the process (the journal's promise); only a power cut may lose the
	// last commits, which is the trade every CI runner makes for speed.
	// busy_timeout comes first so that it already applies to switching
	// to WAL, which another process may be doing at the same moment.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=journal_size_limit(4194304)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and a single
	// connection never fails with SQLITE_BUSY against itself.
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	s.keepWAL(ctx)
	return s, nil
}

// keepWAL keeps velocity.db-wal when the last connection closes, after the
// checkpoint that close makes as before: deleting it and creating it again
// cost every command that opens the journal two inode changes, which on a
// busy ext4 take milliseconds of CPU. journal_size_limit (in the DSN) has
// the close truncate it to nothing, or the next open would read and
// replay every frame of it again. What is in the WAL and when it is
// synced does not change. A failure only costs that time.
func (s *Store) keepWAL(ctx context.Context) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.Raw(func(dc any) error {
		if fc, ok := dc.(driver.FileControl); ok {
			_, err := fc.FileControlPersistWAL("main", 1)
			return err
		}
		return nil
	})
}

// lockSetup blocks until it holds the set-up lock at path.
func lockSetup(path string) (func(), error) {
	l, err := lockfile.Wait(path, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal set-up: %w", err)
	}
	return func() { l.Close() }, nil
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.insertAttempt, `INSERT INTO attempts (run_id, stage, action, n, status, log, started) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		{&s.finishAttempt, `UPDATE attempts SET status = ?, exit_code = ?, reason = ?, finished = ?, final = ?, allow_failure = ?,
			 cache_key = ?, cached_from = ?, key_parts = ?
			 WHERE run_id = ? AND stage = ? AND action = ? AND n = ?`},
	} {
		stmt, err := s.db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		*p.stmt = stmt
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// migrate applies the embedded migrations not yet applied. Each runs in
// an immediate (write-locked) transaction that re-reads the version, so two
// velocity processes opening a new data directory at once cannot both
// apply the same migration.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for {
		done, err := s.migrateOne(ctx, names)
		if err != nil || done {
			return err
		}
	}
}

func (s *Store) migrateOne(ctx context.Context, names []string) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if version > len(names) {
		return false, fmt.Errorf("schema version %d is newer than this velocity knows (%d): upgrade velocity", version, len(names))
	}
	if version == len(names) {
		return true, nil
	}
	body, err := migrations.ReadFile(names[version])
	if err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return false, fmt.Errorf("migrate %s: %w", names[version], err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version+1)); err != nil {
		return false, fmt.Errorf("migrate %s: %w", names[version], err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate %s: %w", names[version], err)
	}
	return false, nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// CreateRun implements store.Store.
func (s *Store) CreateRun(ctx context.Context, r store.Run, actions []store.Action) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO runs (project, dir, commit_sha, branch, dirty, status, reason, lock, workspace, created, finished, selection, trigger, commit_time)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Project, r.Dir, r.Commit, r.Branch, boolInt(r.Dirty), string(r.Status), r.Reason, r.Lock, r.Workspace,
			nanos(r.Created), nanos(r.Finished), column.EncodeSelection(r.Selection), r.Trigger, nanos(r.CommitTime))
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx,
			`INSERT INTO actions (run_id, seq, stage_index, stage, name, kind, needs, status)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, a := range actions {
			status := a.Status
			if status == "" {
				status = store.Pending
			}
			if _, err := stmt.ExecContext(ctx, id, i, a.StageIndex, a.Stage, a.Name, string(a.Kind),
				strings.Join(a.Needs, "\n"), string(status)); err != nil {
				return fmt.Errorf("action %s/%s: %w", a.Stage, a.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	return id, nil
}

func checkOne(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// FinishRun implements store.Store.
func (s *Store) FinishRun(ctx context.Context, id int64, status store.Status, reason string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, reason = ?, finished = ? WHERE id = ?`,
		string(status), reason, nanos(at), id)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	return checkOne(res, fmt.Sprintf("run %d", id))
}

// StartAttempt implements store.Store. The attempt_started trigger marks
// the action running in the same statement.
func (s *Store) StartAttempt(ctx context.Context, a store.Attempt) error {
	return startAttempt(ctx, s.insertAttempt, a)
}

func startAttempt(ctx context.Context, insert *sql.Stmt, a store.Attempt) error {
	_, err := insert.ExecContext(ctx,
		a.RunID, a.Stage, a.Action, a.N, string(store.Running), a.Log, nanos(a.Started))
	if err != nil {
		if strings.Contains(err.Error(), "no such action") {
			err = fmt.Errorf("action %s/%s of run %d: %w", a.Stage, a.Action, a.RunID, store.ErrNotFound)
		}
		return fmt.Errorf("start attempt %d of %s/%s: %w", a.N, a.Stage, a.Action, err)
	}
	return nil
}

// FinishAttempt implements store.Store. When final, the attempt_finished
// trigger copies the outcome to the action in the same statement.
func (s *Store) FinishAttempt(ctx context.Context, a store.Attempt, final, allowFailure bool) error {
	return finishAttempt(ctx, s.finishAttempt, a, final, allowFailure)
}

func finishAttempt(ctx context.Context, update *sql.Stmt, a store.Attempt, final, allowFailure bool) error {
	res, err := update.ExecContext(ctx,
		string(a.Status), a.ExitCode, a.Reason, nanos(a.Finished), boolInt(final), boolInt(allowFailure),
		a.CacheKey, a.CachedFrom, a.KeyParts, a.RunID, a.Stage, a.Action, a.N)
	if err == nil {
		err = checkOne(res, fmt.Sprintf("attempt %d of %s/%s", a.N, a.Stage, a.Action))
	}
	if err != nil {
		return fmt.Errorf("finish attempt %d of %s/%s: %w", a.N, a.Stage, a.Action, err)
	}
	return nil
}

// RecordAttempts implements store.AttemptRecorder. One end and a start,
// the engine's case in a chain of actions, are one statement
// (attempt_handovers), without a transaction around it: BEGIN and
// COMMIT as statements of their own, and database/sql's transaction,
// cost more CPU than the commit they save. Other cases take a
// transaction.
func (s *Store) RecordAttempts(ctx context.Context, ends []store.AttemptEnd, started *store.Attempt) error {
	switch {
	case len(ends) == 0 && started != nil:
		return s.StartAttempt(ctx, *started)
	case len(ends) == 1 && started == nil:
		e := ends[0]
		return s.FinishAttempt(ctx, e.Attempt, e.Final, e.AllowFailure)
	case len(ends) == 1:
		e, a := ends[0].Attempt, *started
		s.handoverOnce.Do(func() {
			s.handover, s.handoverErr = s.db.PrepareContext(context.WithoutCancel(ctx),
				`INSERT INTO attempt_handovers (end_status, end_exit_code, end_reason, end_finished, end_final, end_allow_failure,
				 end_cache_key, end_cached_from, end_key_parts, end_run_id, end_stage, end_action, end_n,
				 run_id, stage, action, n, status, log, started)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		})
		if s.handoverErr != nil {
			return fmt.Errorf("finish attempt %d of %s/%s, start attempt %d of %s/%s: %w", e.N, e.Stage, e.Action, a.N, a.Stage, a.Action, s.handoverErr)
		}
		_, err := s.handover.ExecContext(ctx,
			string(e.Status), e.ExitCode, e.Reason, nanos(e.Finished), boolInt(ends[0].Final), boolInt(ends[0].AllowFailure),
			e.CacheKey, e.CachedFrom, e.KeyParts, e.RunID, e.Stage, e.Action, e.N,
			a.RunID, a.Stage, a.Action, a.N, string(store.Running), a.Log, nanos(a.Started))
		if err != nil {
			msg := err.Error()
			switch {
			case strings.Contains(msg, "no such attempt"):
				err = fmt.Errorf("finish attempt %d of %s/%s: attempt %d of %s/%s: %w", e.N, e.Stage, e.Action, e.N, e.Stage, e.Action, store.ErrNotFound)
			case strings.Contains(msg, "no such action"):
				err = fmt.Errorf("start attempt %d of %s/%s: action %s/%s of run %d: %w", a.N, a.Stage, a.Action, a.Stage, a.Action, a.RunID, store.ErrNotFound)
			default:
				err = fmt.Errorf("finish attempt %d of %s/%s, start attempt %d of %s/%s: %w", e.N, e.Stage, e.Action, a.N, a.Stage, a.Action, err)
			}
		}
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if len(ends) > 0 {
			update := tx.StmtContext(ctx, s.finishAttempt)
			for _, e := range ends {
				if err := finishAttempt(ctx, update, e.Attempt, e.Final, e.AllowFailure); err != nil {
					return err
				}
			}
		}
		if started == nil {
			return nil
		}
		return startAttempt(ctx, tx.StmtContext(ctx, s.insertAttempt), *started)
	})
}

// SetActions implements store.Store.
func (s *Store) SetActions(ctx context.Context, runID int64, keys []store.Key, status store.Status, reason string, at time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx,
			`UPDATE actions SET status = ?, reason = ?, finished = ? WHERE run_id = ? AND stage = ? AND name = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, k := range keys {
			res, err := stmt.ExecContext(ctx, string(status), reason, nanos(at), runID, k.Stage, k.Name)
			if err != nil {
				return err
			}
			if err := checkOne(res, fmt.Sprintf("action %s/%s of run %d", k.Stage, k.Name, runID)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set actions of run %d %s: %w", runID, status, err)
	}
	return nil
}

const runColumns = `id, project, dir, commit_sha, branch, dirty, status, reason, lock, workspace, created, finished, selection, trigger, commit_time`

func scanRun(row interface{ Scan(...any) error }) (store.Run, error) {
	var r store.Run
	var dirty int
	var status, selection string
	var created, finished, commitTime int64
	err := row.Scan(&r.ID, &r.Project, &r.Dir, &r.Commit, &r.Branch, &dirty, &status, &r.Reason, &r.Lock, &r.Workspace, &created, &finished, &selection, &r.Trigger, &commitTime)
	if err == nil {
		r.Selection, err = column.DecodeSelection(selection)
	}
	r.Dirty = dirty != 0
	r.Status = store.Status(status)
	r.Created = fromNanos(created)
	r.Finished = fromNanos(finished)
	r.CommitTime = fromNanos(commitTime)
	return r, err
}

// Run implements store.Store.
func (s *Store) Run(ctx context.Context, id int64) (store.Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("run %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("run %d: %w", id, err)
	}
	return r, nil
}

func (s *Store) queryRuns(ctx context.Context, query string, args ...any) ([]store.Run, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var runs []store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

// Runs implements store.Store.
func (s *Store) Runs(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	if f.Project != "" {
		return s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE project = ? ORDER BY id DESC LIMIT ?`, f.Project, limit)
	}
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs ORDER BY id DESC LIMIT ?`, limit)
}

// LiveRuns implements store.Store.
func (s *Store) LiveRuns(ctx context.Context) ([]store.Run, error) {
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE status IN ('pending', 'running') ORDER BY id`)
}

// Actions implements store.Store.
func (s *Store) Actions(ctx context.Context, runID int64) ([]store.Action, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT stage_index, stage, name, kind, needs, status, allow_failure, exit_code, attempts, reason, started, finished,
		 cache_key, cached_from
		 FROM actions WHERE run_id = ? ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("actions of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []store.Action
	for rows.Next() {
		a := store.Action{RunID: runID}
		var kind, needs, status string
		var allow int
		var started, finished int64
		if err := rows.Scan(&a.StageIndex, &a.Stage, &a.Name, &kind, &needs, &status, &allow, &a.ExitCode,
			&a.Attempts, &a.Reason, &started, &finished, &a.CacheKey, &a.CachedFrom); err != nil {
			return nil, fmt.Errorf("actions of run %d: %w", runID, err)
		}
		a.Kind = store.Kind(kind)
		if needs != "" {
			a.Needs = strings.Split(needs, "\n")
		}
		a.Status = store.Status(status)
		a.AllowFailure = allow != 0
		a.Started = fromNanos(started)
		a.Finished = fromNanos(finished)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Attempts implements store.Store.
func (s *Store) Attempts(ctx context.Context, runID int64) ([]store.Attempt, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT stage, action, n, status, exit_code, reason, log, started, finished, cache_key, cached_from
		 FROM attempts WHERE run_id = ? ORDER BY started, stage, action, n`, runID)
	if err != nil {
		return nil, fmt.Errorf("attempts of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []store.Attempt
	for rows.Next() {
		a := store.Attempt{RunID: runID}
		var status string
		var started, finished int64
		if err := rows.Scan(&a.Stage, &a.Action, &a.N, &status, &a.ExitCode, &a.Reason, &a.Log, &started, &finished,
			&a.CacheKey, &a.CachedFrom); err != nil {
			return nil, fmt.Errorf("attempts of run %d: %w", runID, err)
		}
		a.Status = store.Status(status)
		a.Started = fromNanos(started)
		a.Finished = fromNanos(finished)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Interrupt implements store.Store.
func (s *Store) Interrupt(ctx context.Context, id int64, reason string, at time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, reason = ?, finished = ? WHERE id = ?`,
			string(store.Interrupted), reason, nanos(at), id)
		if err != nil {
			return err
		}
		if err := checkOne(res, fmt.Sprintf("run %d", id)); err != nil {
			return err
		}
		for _, q := range []struct {
			sql    string
			status store.Status
		}{
			{`UPDATE attempts SET status = ?, reason = ?, finished = ? WHERE run_id = ? AND status = 'running'`, store.Interrupted},
			{`UPDATE actions SET status = ?, reason = ?, finished = ? WHERE run_id = ? AND status = 'running'`, store.Interrupted},
			{`UPDATE actions SET status = ?, reason = ?, finished = ? WHERE run_id = ? AND status = 'pending'`, store.Skipped},
		} {
			if _, err := tx.ExecContext(ctx, q.sql, string(q.status), reason, nanos(at), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("interrupt run %d: %w", id, err)
	}
	return nil
}

// SetOutputs implements store.Store.
func (s *Store) SetOutputs(ctx context.Context, runID int64, k store.Key, files []store.Output) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM outputs WHERE run_id = ? AND stage = ? AND action = ?`,
			runID, k.Stage, k.Name); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx,
			`INSERT INTO outputs (run_id, stage, action, path, mode, size, digest, link) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, f := range files {
			if _, err := stmt.ExecContext(ctx, runID, k.Stage, k.Name, f.Path, f.Mode, f.Size, f.Digest, f.Link); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record outputs of %s/%s: %w", k.Stage, k.Name, err)
	}
	return nil
}

// Outputs implements store.Store.
func (s *Store) Outputs(ctx context.Context, runID int64) ([]store.Output, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT o.stage, o.action, o.path, o.mode, o.size, o.digest, o.link FROM outputs o
		 JOIN actions a ON a.run_id = o.run_id AND a.stage = o.stage AND a.name = o.action
		 WHERE o.run_id = ? ORDER BY a.seq, o.path`, runID)
	if err != nil {
		return nil, fmt.Errorf("outputs of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []store.Output
	for rows.Next() {
		var o store.Output
		if err := rows.Scan(&o.Stage, &o.Action, &o.Path, &o.Mode, &o.Size, &o.Digest, &o.Link); err != nil {
			return nil, fmt.Errorf("outputs of run %d: %w", runID, err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// SaveResult implements store.Store.
func (s *Store) SaveResult(ctx context.Context, r store.Result) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT OR REPLACE INTO results (key, run_id, stage, action, log, created, used) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.Key, r.RunID, r.Stage, r.Action, r.Log, nanos(r.Created), nanos(r.Used))
	if err != nil {
		return fmt.Errorf("save cache entry for %s/%s: %w", r.Stage, r.Action, err)
	}
	return nil
}

// Result implements store.Store. Marking the entry used and reading it is
// one statement: a cache hit is on every cached action's path.
func (s *Store) Result(ctx context.Context, key string) (store.Result, error) {
	r := store.Result{Key: key, Used: time.Now()}
	var created int64
	err := s.db.QueryRowContext(ctx,
		`UPDATE results SET used = ? WHERE key = ? RETURNING run_id, stage, action, log, created`,
		nanos(r.Used), key).Scan(&r.RunID, &r.Stage, &r.Action, &r.Log, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("cache entry %.16s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("cache entry %.16s: %w", key, err)
	}
	r.Created = fromNanos(created)
	return r, nil
}

// DeleteResult implements store.Store.
func (s *Store) DeleteResult(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM results WHERE key = ?`, key); err != nil {
		return fmt.Errorf("delete cache entry %.16s: %w", key, err)
	}
	return nil
}

// keyPartsColumns reads an action with its last attempt's key parts.
const keyPartsColumns = `a.run_id, a.stage, a.name, a.status, a.cache_key, a.cached_from,
	(SELECT t.key_parts FROM attempts t WHERE t.run_id = a.run_id AND t.stage = a.stage AND t.action = a.name
	 AND t.key_parts IS NOT NULL ORDER BY t.n DESC LIMIT 1)`

func scanKeyParts(row *sql.Row) (store.KeyParts, error) {
	var p store.KeyParts
	var status string
	err := row.Scan(&p.RunID, &p.Stage, &p.Action, &status, &p.CacheKey, &p.CachedFrom, &p.Body)
	p.Status = store.Status(status)
	return p, err
}

// KeyParts implements store.Store.
func (s *Store) KeyParts(ctx context.Context, runID int64, k store.Key) (store.KeyParts, error) {
	p, err := scanKeyParts(s.db.QueryRowContext(ctx,
		`SELECT `+keyPartsColumns+` FROM actions a WHERE a.run_id = ? AND a.stage = ? AND a.name = ?`, runID, k.Stage, k.Name))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("action %s/%s of run %d: %w", k.Stage, k.Name, runID, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("key of %s/%s in run %d: %w", k.Stage, k.Name, runID, err)
	}
	return p, nil
}

// LastSuccess implements store.Store.
func (s *Store) LastSuccess(ctx context.Context, project string, k store.Key, before int64) (store.KeyParts, error) {
	s.lastSuccessOnce.Do(func() {
		s.lastSuccess, s.lastSuccessErr = s.db.PrepareContext(context.WithoutCancel(ctx), `SELECT `+keyPartsColumns+`
			 FROM actions a JOIN runs r ON r.id = a.run_id
			 WHERE a.stage = ? AND a.name = ? AND a.run_id < ? AND a.status IN ('succeeded', 'cached') AND a.cache_key != ''
			 AND r.project = ?
			 ORDER BY a.run_id DESC LIMIT 1`)
	})
	if s.lastSuccessErr != nil {
		return store.KeyParts{}, fmt.Errorf("earlier success of %s/%s: %w", k.Stage, k.Name, s.lastSuccessErr)
	}
	p, err := scanKeyParts(s.lastSuccess.QueryRowContext(ctx, k.Stage, k.Name, before, project))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("earlier success of %s/%s: %w", k.Stage, k.Name, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("earlier success of %s/%s: %w", k.Stage, k.Name, err)
	}
	return p, nil
}

// SaveDepCache implements store.Store.
func (s *Store) SaveDepCache(ctx context.Context, c store.DepCache) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT OR REPLACE INTO dep_caches (scope, key, digest, size, created) VALUES (?, ?, ?, ?, ?)`,
		c.Scope, c.Key, c.Digest, c.Size, nanos(c.Created))
	if err != nil {
		return fmt.Errorf("save dependency cache %s: %w", c.Scope, err)
	}
	return nil
}

// DepCache implements store.Store.
func (s *Store) DepCache(ctx context.Context, scope, key string) (store.DepCache, bool, error) {
	c := store.DepCache{Scope: scope}
	var created int64
	err := s.db.QueryRowContext(ctx,
		`SELECT key, digest, size, created FROM dep_caches WHERE scope = ?
		 ORDER BY key = ? DESC, created DESC LIMIT 1`, scope, key).Scan(&c.Key, &c.Digest, &c.Size, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, fmt.Errorf("dependency cache %s: %w", scope, store.ErrNotFound)
	}
	if err != nil {
		return c, false, fmt.Errorf("dependency cache %s: %w", scope, err)
	}
	c.Created = fromNanos(created)
	return c, c.Key == key, nil
}

// RequestApproval implements store.Store.
func (s *Store) RequestApproval(ctx context.Context, runID int64, stage string, at time.Time) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO approvals (run_id, stage, status, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		runID, stage, string(store.ApprovalPending), nanos(at))
	if err != nil {
		return fmt.Errorf("request approval of %s in run %d: %w", stage, runID, err)
	}
	return nil
}

// Decide implements store.Store.
func (s *Store) Decide(ctx context.Context, a store.Approval) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE approvals SET status = ?, by = ?, at = ? WHERE run_id = ? AND stage = ? AND status = ?`,
		string(a.Status), a.By, nanos(a.At), a.RunID, a.Stage, string(store.ApprovalPending))
	if err != nil {
		return fmt.Errorf("decide approval of %s in run %d: %w", a.Stage, a.RunID, err)
	}
	return checkOne(res, fmt.Sprintf("pending approval of stage %s in run %d", a.Stage, a.RunID))
}

// Approvals implements store.Store.
func (s *Store) Approvals(ctx context.Context, runID int64) ([]store.Approval, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT stage, status, by, at FROM approvals WHERE run_id = ? ORDER BY at`, runID)
	if err != nil {
		return nil, fmt.Errorf("approvals of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []store.Approval
	for rows.Next() {
		a := store.Approval{RunID: runID}
		var status string
		var at int64
		if err := rows.Scan(&a.Stage, &status, &a.By, &at); err != nil {
			return nil, fmt.Errorf("approvals of run %d: %w", runID, err)
		}
		a.Status, a.At = store.ApprovalStatus(status), fromNanos(at)
		out = append(out, a)
	}
	return out, rows.Err()
}
