// Package postgres is the Store for several nodes: the journal in a
// PostgreSQL database that every velocity process of a team points at.
// It keeps what the SQLite store keeps, with the same semantics, checked
// by the same storetest suite.
//
// It goes through database/sql with pgx's driver (pgx/v5/stdlib): the
// SQLite store is written against database/sql too, so the two read side
// by side (transactions, RowsAffected, ErrNoRows), and database/sql's pool
// is all a store of short statements needs. pgx still encodes the
// arguments, arrays included, and caches each connection's prepared
// statements.
//
// Where SQLite's single writer makes a read-then-write atomic, PostgreSQL
// (read committed) does not: each such step here is either one statement
// whose conflict handling or WHERE clause is the test (leases, schedule
// fires, deliveries, tokens, requests), or a transaction that first takes
// a transaction-scoped advisory lock on what it decides about (a
// concurrency key, a tree of executions, an environment's service).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	neturl "net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/column"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a store.Store on PostgreSQL.
type Store struct {
	db *sql.DB
}

var _ store.Store = (*Store)(nil)

// maxConns caps the connections one process opens: enough for the
// engine's parallel actions and a server's requests, few enough that a
// handful of nodes stay well inside PostgreSQL's default of 100.
const maxConns = 16

// Open connects to the database at url (postgres://user@host/db?…; a
// search_path parameter picks the schema) and brings its schema up to
// date.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", Redact(url), err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", Redact(url), err)
	}
	return s, nil
}

// Redact returns a connection string without its password, for
// messages and logs: a URL's user password and password parameter, a
// keyword string's password=…; a URL that cannot be read is not shown at
// all, since what it hides cannot be known.
func Redact(conn string) string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := neturl.Parse(conn)
		if err != nil {
			return "(a postgres URL that cannot be read)"
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return keywordPassword().ReplaceAllString(conn, "${1}xxxxx")
}

// keywordPassword is the password of a keyword connection string
// ("host=db password='s e cret' user=v"), quoted or not.
// Compiled on first use: every velocity command links this package.
var keywordPassword = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:\\.|[^'])*'|\S*)`)
})

// Close closes the connections.
func (s *Store) Close() error { return s.db.Close() }

// migration is one embedded file, NNN_name.sql.
type migration struct {
	version int
	name    string
}

func embedded() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := path.Base(n)
		prefix, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number", base)
		}
		out = append(out, migration{version: v, name: base})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, all in one transaction (PostgreSQL's DDL is
// transactional: a failed migration leaves nothing half done). The
// transaction first takes an advisory lock named after the schema, so
// processes starting at once on a new database apply each migration once:
// the others wait, then find it recorded.
func (s *Store) migrate(ctx context.Context) error {
	all, err := embedded()
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`SELECT pg_advisory_xact_lock(hashtext('velocity schema ' || COALESCE(current_schema(), '')))`); err != nil {
			return fmt.Errorf("lock the schema for migrations: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY,
			name    text NOT NULL,
			applied timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("migrations table: %w", err)
		}
		applied := map[int]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read applied migrations: %w", err)
		}
		newest := 0
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v], newest = true, max(newest, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if known := all[len(all)-1].version; newest > known {
			return fmt.Errorf("schema version %d is newer than this velocity knows (%d): upgrade velocity", newest, known)
		}
		for _, m := range all {
			if applied[m.version] {
				continue
			}
			body, err := migrations.ReadFile("migrations/" + m.name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migrate %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`,
				m.version, m.name); err != nil {
				return fmt.Errorf("migrate %s: %w", m.name, err)
			}
		}
		return nil
	})
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

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// isUnique reports a unique or primary key violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
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

// lock takes the transaction-scoped advisory lock named name: held until
// tx ends, so what tx reads after it no other holder changes meanwhile.
func lock(ctx context.Context, tx *sql.Tx, name string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, name)
	return err
}

type scanner interface{ Scan(dest ...any) error }

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
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

// affected turns a statement that changed no row into ErrNotFound.
func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := checkOne(res, what); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// queryAll runs query and scans each row with scan.
func queryAll[T any](ctx context.Context, q queryer, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// CreateRun implements store.Store.
func (s *Store) CreateRun(ctx context.Context, r store.Run, actions []store.Action) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`INSERT INTO runs (project, dir, commit_sha, branch, dirty, status, reason, lock, workspace, created, finished, selection, trigger, commit_time)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
			r.Project, r.Dir, r.Commit, r.Branch, r.Dirty, string(r.Status), r.Reason, r.Lock, r.Workspace,
			nanos(r.Created), nanos(r.Finished), column.EncodeSelection(r.Selection), r.Trigger, nanos(r.CommitTime)).Scan(&id)
		if err != nil {
			return err
		}
		if len(actions) == 0 {
			return nil
		}
		// One statement for all the actions, as arrays unnested into rows.
		var (
			seq, stageIndex              []int32
			stage, name, kind, needs, st []string
		)
		for i, a := range actions {
			status := a.Status
			if status == "" {
				status = store.Pending
			}
			seq, stageIndex = append(seq, int32(i)), append(stageIndex, int32(a.StageIndex))
			stage, name, kind = append(stage, a.Stage), append(name, a.Name), append(kind, string(a.Kind))
			needs, st = append(needs, strings.Join(a.Needs, "\n")), append(st, string(status))
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO actions (run_id, seq, stage_index, stage, name, kind, needs, status)
			 SELECT $1, * FROM unnest($2::integer[], $3::integer[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`,
			id, seq, stageIndex, stage, name, kind, needs, st)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	return id, nil
}

// FinishRun implements store.Store.
func (s *Store) FinishRun(ctx context.Context, id int64, status store.Status, reason string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET status = $1, reason = $2, finished = $3 WHERE id = $4`,
		string(status), reason, nanos(at), id)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	return checkOne(res, fmt.Sprintf("run %d", id))
}

// StartAttempt implements store.Store: the action is marked running and
// the attempt recorded in one statement, the attempt only if the action
// exists.
func (s *Store) StartAttempt(ctx context.Context, a store.Attempt) error {
	res, err := s.db.ExecContext(ctx,
		`WITH a AS (
			UPDATE actions SET status = 'running', attempts = $4::integer,
				started = CASE WHEN started = 0 THEN $7::bigint ELSE started END
			WHERE run_id = $1::bigint AND stage = $2::text AND name = $3::text RETURNING 1)
		 INSERT INTO attempts (run_id, stage, action, n, status, log, started)
		 SELECT $1, $2, $3, $4, $5::text, $6::text, $7 FROM a`,
		a.RunID, a.Stage, a.Action, a.N, string(store.Running), a.Log, nanos(a.Started))
	if err == nil {
		err = checkOne(res, fmt.Sprintf("action %s/%s of run %d", a.Stage, a.Action, a.RunID))
	}
	if err != nil {
		return fmt.Errorf("start attempt %d of %s/%s: %w", a.N, a.Stage, a.Action, err)
	}
	return nil
}

// FinishAttempt implements store.Store: when final, the action takes the
// attempt's outcome in the same statement.
func (s *Store) FinishAttempt(ctx context.Context, a store.Attempt, final, allowFailure bool) error {
	var n int
	err := s.db.QueryRowContext(ctx,
		`WITH t AS (
			UPDATE attempts SET status = $1, exit_code = $2, reason = $3, finished = $4, final = $5, allow_failure = $6,
				cache_key = $7, cached_from = $8, key_parts = $9
			WHERE run_id = $10 AND stage = $11 AND action = $12 AND n = $13 RETURNING *),
		 a AS (
			UPDATE actions SET status = t.status, exit_code = t.exit_code, reason = t.reason, finished = t.finished,
				allow_failure = t.allow_failure, cache_key = t.cache_key, cached_from = t.cached_from
			FROM t WHERE t.final AND actions.run_id = t.run_id AND actions.stage = t.stage AND actions.name = t.action)
		 SELECT count(*) FROM t`,
		string(a.Status), a.ExitCode, a.Reason, nanos(a.Finished), final, allowFailure,
		a.CacheKey, a.CachedFrom, a.KeyParts, a.RunID, a.Stage, a.Action, a.N).Scan(&n)
	if err == nil && n == 0 {
		err = fmt.Errorf("attempt %d of %s/%s: %w", a.N, a.Stage, a.Action, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("finish attempt %d of %s/%s: %w", a.N, a.Stage, a.Action, err)
	}
	return nil
}

// SetActions implements store.Store.
func (s *Store) SetActions(ctx context.Context, runID int64, keys []store.Key, status store.Status, reason string, at time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			res, err := tx.ExecContext(ctx,
				`UPDATE actions SET status = $1, reason = $2, finished = $3 WHERE run_id = $4 AND stage = $5 AND name = $6`,
				string(status), reason, nanos(at), runID, k.Stage, k.Name)
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

func scanRun(row scanner) (store.Run, error) {
	var r store.Run
	var status, selection string
	var created, finished, commitTime int64
	err := row.Scan(&r.ID, &r.Project, &r.Dir, &r.Commit, &r.Branch, &r.Dirty, &status, &r.Reason, &r.Lock, &r.Workspace,
		&created, &finished, &selection, &r.Trigger, &commitTime)
	if err == nil {
		r.Selection, err = column.DecodeSelection(selection)
	}
	r.Status = store.Status(status)
	r.Created, r.Finished, r.CommitTime = fromNanos(created), fromNanos(finished), fromNanos(commitTime)
	return r, err
}

// Run implements store.Store.
func (s *Store) Run(ctx context.Context, id int64) (store.Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("run %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("run %d: %w", id, err)
	}
	return r, nil
}

func (s *Store) queryRuns(ctx context.Context, query string, args ...any) ([]store.Run, error) {
	runs, err := queryAll(ctx, s.db, scanRun, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// Runs implements store.Store.
func (s *Store) Runs(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	if f.Project != "" {
		return s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE project = $1 ORDER BY id DESC LIMIT $2`, f.Project, limit)
	}
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs ORDER BY id DESC LIMIT $1`, limit)
}

// LiveRuns implements store.Store.
func (s *Store) LiveRuns(ctx context.Context) ([]store.Run, error) {
	return s.queryRuns(ctx, `SELECT `+runColumns+` FROM runs WHERE status IN ('pending', 'running') ORDER BY id`)
}

// Actions implements store.Store.
func (s *Store) Actions(ctx context.Context, runID int64) ([]store.Action, error) {
	out, err := queryAll(ctx, s.db, func(row scanner) (store.Action, error) {
		a := store.Action{RunID: runID}
		var kind, needs, status string
		var started, finished int64
		if err := row.Scan(&a.StageIndex, &a.Stage, &a.Name, &kind, &needs, &status, &a.AllowFailure, &a.ExitCode,
			&a.Attempts, &a.Reason, &started, &finished, &a.CacheKey, &a.CachedFrom); err != nil {
			return a, err
		}
		a.Kind, a.Status = store.Kind(kind), store.Status(status)
		if needs != "" {
			a.Needs = strings.Split(needs, "\n")
		}
		a.Started, a.Finished = fromNanos(started), fromNanos(finished)
		return a, nil
	}, `SELECT stage_index, stage, name, kind, needs, status, allow_failure, exit_code, attempts, reason, started, finished,
		 cache_key, cached_from
		 FROM actions WHERE run_id = $1 ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("actions of run %d: %w", runID, err)
	}
	return out, nil
}

// Attempts implements store.Store.
func (s *Store) Attempts(ctx context.Context, runID int64) ([]store.Attempt, error) {
	out, err := queryAll(ctx, s.db, func(row scanner) (store.Attempt, error) {
		a := store.Attempt{RunID: runID}
		var status string
		var started, finished int64
		if err := row.Scan(&a.Stage, &a.Action, &a.N, &status, &a.ExitCode, &a.Reason, &a.Log, &started, &finished,
			&a.CacheKey, &a.CachedFrom); err != nil {
			return a, err
		}
		a.Status, a.Started, a.Finished = store.Status(status), fromNanos(started), fromNanos(finished)
		return a, nil
	}, `SELECT stage, action, n, status, exit_code, reason, log, started, finished, cache_key, cached_from
		 FROM attempts WHERE run_id = $1 ORDER BY started, stage COLLATE "C", action COLLATE "C", n`, runID)
	if err != nil {
		return nil, fmt.Errorf("attempts of run %d: %w", runID, err)
	}
	return out, nil
}

// Interrupt implements store.Store.
func (s *Store) Interrupt(ctx context.Context, id int64, reason string, at time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET status = $1, reason = $2, finished = $3 WHERE id = $4`,
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
			{`UPDATE attempts SET status = $1, reason = $2, finished = $3 WHERE run_id = $4 AND status = 'running'`, store.Interrupted},
			{`UPDATE actions SET status = $1, reason = $2, finished = $3 WHERE run_id = $4 AND status = 'running'`, store.Interrupted},
			{`UPDATE actions SET status = $1, reason = $2, finished = $3 WHERE run_id = $4 AND status = 'pending'`, store.Skipped},
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM outputs WHERE run_id = $1 AND stage = $2 AND action = $3`,
			runID, k.Stage, k.Name); err != nil {
			return err
		}
		if len(files) == 0 {
			return nil
		}
		var (
			paths, digests, links []string
			modes, sizes          []int64
		)
		for _, f := range files {
			paths, digests, links = append(paths, f.Path), append(digests, f.Digest), append(links, f.Link)
			modes, sizes = append(modes, int64(f.Mode)), append(sizes, f.Size)
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO outputs (run_id, stage, action, path, mode, size, digest, link)
			 SELECT $1, $2, $3, * FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[])`,
			runID, k.Stage, k.Name, paths, modes, sizes, digests, links)
		return err
	})
	if err != nil {
		return fmt.Errorf("record outputs of %s/%s: %w", k.Stage, k.Name, err)
	}
	return nil
}

// Outputs implements store.Store.
func (s *Store) Outputs(ctx context.Context, runID int64) ([]store.Output, error) {
	out, err := queryAll(ctx, s.db, func(row scanner) (store.Output, error) {
		var o store.Output
		var mode int64
		err := row.Scan(&o.Stage, &o.Action, &o.Path, &mode, &o.Size, &o.Digest, &o.Link)
		o.Mode = uint32(mode)
		return o, err
	}, `SELECT o.stage, o.action, o.path, o.mode, o.size, o.digest, o.link FROM outputs o
		 JOIN actions a ON a.run_id = o.run_id AND a.stage = o.stage AND a.name = o.action
		 WHERE o.run_id = $1 ORDER BY a.seq, o.path COLLATE "C"`, runID)
	if err != nil {
		return nil, fmt.Errorf("outputs of run %d: %w", runID, err)
	}
	return out, nil
}

// SaveResult implements store.Store.
func (s *Store) SaveResult(ctx context.Context, r store.Result) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO results (key, run_id, stage, action, log, created, used) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, stage = excluded.stage, action = excluded.action,
		   log = excluded.log, created = excluded.created, used = excluded.used`,
		r.Key, r.RunID, r.Stage, r.Action, r.Log, nanos(r.Created), nanos(r.Used))
	if err != nil {
		return fmt.Errorf("save cache entry for %s/%s: %w", r.Stage, r.Action, err)
	}
	return nil
}

// Result implements store.Store: marking the entry used and reading it
// is one statement.
func (s *Store) Result(ctx context.Context, key string) (store.Result, error) {
	r := store.Result{Key: key, Used: time.Now()}
	var created int64
	err := s.db.QueryRowContext(ctx,
		`UPDATE results SET used = $1 WHERE key = $2 RETURNING run_id, stage, action, log, created`,
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
	if _, err := s.db.ExecContext(ctx, `DELETE FROM results WHERE key = $1`, key); err != nil {
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
		`SELECT `+keyPartsColumns+` FROM actions a WHERE a.run_id = $1 AND a.stage = $2 AND a.name = $3`, runID, k.Stage, k.Name))
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
	p, err := scanKeyParts(s.db.QueryRowContext(ctx, `SELECT `+keyPartsColumns+`
		 FROM actions a JOIN runs r ON r.id = a.run_id
		 WHERE a.stage = $1 AND a.name = $2 AND a.run_id < $3 AND a.status IN ('succeeded', 'cached') AND a.cache_key != ''
		 AND r.project = $4
		 ORDER BY a.run_id DESC LIMIT 1`, k.Stage, k.Name, before, project))
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
		`INSERT INTO dep_caches (scope, key, digest, size, created) VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (scope, key) DO UPDATE SET digest = excluded.digest, size = excluded.size, created = excluded.created`,
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
		`SELECT key, digest, size, created FROM dep_caches WHERE scope = $1
		 ORDER BY key = $2 DESC, created DESC LIMIT 1`, scope, key).Scan(&c.Key, &c.Digest, &c.Size, &created)
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
		`INSERT INTO approvals (run_id, stage, status, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		runID, stage, string(store.ApprovalPending), nanos(at))
	if err != nil {
		return fmt.Errorf("request approval of %s in run %d: %w", stage, runID, err)
	}
	return nil
}

// Decide implements store.Store.
func (s *Store) Decide(ctx context.Context, a store.Approval) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE approvals SET status = $1, by = $2, at = $3 WHERE run_id = $4 AND stage = $5 AND status = $6`,
		string(a.Status), a.By, nanos(a.At), a.RunID, a.Stage, string(store.ApprovalPending))
	if err != nil {
		return fmt.Errorf("decide approval of %s in run %d: %w", a.Stage, a.RunID, err)
	}
	return checkOne(res, fmt.Sprintf("pending approval of stage %s in run %d", a.Stage, a.RunID))
}

// Approvals implements store.Store.
func (s *Store) Approvals(ctx context.Context, runID int64) ([]store.Approval, error) {
	out, err := queryAll(ctx, s.db, func(row scanner) (store.Approval, error) {
		a := store.Approval{RunID: runID}
		var status string
		var at int64
		err := row.Scan(&a.Stage, &status, &a.By, &at)
		a.Status, a.At = store.ApprovalStatus(status), fromNanos(at)
		return a, err
	}, `SELECT stage, status, by, at FROM approvals WHERE run_id = $1 ORDER BY at`, runID)
	if err != nil {
		return nil, fmt.Errorf("approvals of run %d: %w", runID, err)
	}
	return out, nil
}
