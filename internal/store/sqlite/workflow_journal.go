package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/velocity-ci/velocity/internal/store"
)

// groupCommit batches the appends of concurrent callers into one
// transaction: executions running side by side would otherwise pay one
// commit each where one does. There is no timer and no goroutine of its
// own: the first caller to find no commit under way leads, committing
// whatever is queued by then, its own request included; requests queued
// meanwhile wait, and the leader hands the lead to the first of them when
// it is done. Every caller thus returns as soon as its own batch is
// committed, and a lone caller commits on its own goroutine, with no
// hand-over at all. Its zero value is ready.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*appendRequest
	leading bool
	// insert holds the INSERTs of n rows, prepared on first use by the
	// leader; only one goroutine leads at a time.
	insert map[int]*sql.Stmt
	// args is the leader's argument buffer, kept between commits.
	args []any
}

// appendRequest is one AppendEvents call waiting for its group's commit.
type appendRequest struct {
	executionID int64
	events      []store.Event
	// done receives the outcome of the request's commit, or first a call
	// to lead the next group. One place is enough: a request is told to
	// lead only while queued, before any outcome.
	done chan appendOutcome
}

type appendOutcome struct {
	err  error
	lead bool
}

// AppendEvents implements store.Workflows.
func (s *Store) AppendEvents(ctx context.Context, executionID int64, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	req := &appendRequest{executionID: executionID, events: events, done: make(chan appendOutcome, 1)}
	g := &s.journal
	g.mu.Lock()
	g.queue = append(g.queue, req)
	if !g.leading {
		g.leading = true
		g.mu.Unlock()
		s.lead()
		return (<-req.done).err
	}
	g.mu.Unlock()
	select {
	case o := <-req.done:
		if o.lead {
			s.lead()
			o = <-req.done
		}
		return o.err
	case <-ctx.Done():
		// The events may still be committed; the caller treats them as not
		// durable, which is the safe reading. A call to lead must still be
		// answered, or the requests behind this one would wait forever.
		go func() {
			if o := <-req.done; o.lead {
				s.lead()
			}
		}()
		return ctx.Err()
	}
}

// lead commits the queued requests as one group, tells each its outcome
// and passes the lead on to the first request queued meanwhile.
func (s *Store) lead() {
	g := &s.journal
	g.mu.Lock()
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()

	err := s.commitEvents(batch)
	if err != nil && len(batch) > 1 {
		// One bad request (a duplicate event) must not fail the others:
		// commit each alone to find out whose it was. An error that is no
		// request's own (a full disk) fails them all again.
		for _, r := range batch {
			r.done <- appendOutcome{err: s.commitEvents([]*appendRequest{r})}
		}
	} else {
		for _, r := range batch {
			r.done <- appendOutcome{err: err}
		}
	}

	g.mu.Lock()
	if len(g.queue) == 0 {
		g.leading = false
		g.mu.Unlock()
		return
	}
	next := g.queue[0]
	g.mu.Unlock()
	next.done <- appendOutcome{lead: true}
}

// eventsPerInsert is how many events one INSERT statement writes: one
// statement per event spent most of an append in the driver's per-call
// overhead, and 64 rows of 5 values stay far below SQLite's parameter limit.
const eventsPerInsert = 64

// insertEvents returns the prepared INSERT of n rows; only the leader
// calls it.
func (s *Store) insertEvents(ctx context.Context, n int) (*sql.Stmt, error) {
	g := &s.journal
	if stmt := g.insert[n]; stmt != nil {
		return stmt, nil
	}
	q := `INSERT INTO workflow_events (execution_id, id, type, at, body) VALUES (?, ?, ?, ?, ?)` +
		strings.Repeat(`, (?, ?, ?, ?, ?)`, n-1)
	stmt, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if g.insert == nil {
		g.insert = map[int]*sql.Stmt{}
	}
	g.insert[n] = stmt
	return stmt, nil
}

// commitEvents writes the events of batch in one transaction, in
// statements of eventsPerInsert rows and one for the rest; only the
// leader calls it.
func (s *Store) commitEvents(batch []*appendRequest) error {
	// The callers' contexts differ and any may be cancelled; the commit
	// belongs to all of them, so it runs on its own.
	ctx := context.Background()
	total := 0
	for _, r := range batch {
		total += len(r.events)
	}
	// The statements are prepared before the transaction, which holds
	// the only connection.
	size := min(total, eventsPerInsert)
	full, err := s.insertEvents(ctx, size)
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	var rest *sql.Stmt
	if n := total % size; n > 0 {
		if rest, err = s.insertEvents(ctx, n); err != nil {
			return fmt.Errorf("append events: %w", err)
		}
	}
	g := &s.journal
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		args := g.args[:0]
		// The chunk's execution and its first and last events, for the error.
		var execution, first, last int64
		flush := func(stmt *sql.Stmt) error {
			_, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
			if isConstraint(err) {
				return fmt.Errorf("events %d to %d of execution %d: %w", first, last, execution, store.ErrExists)
			}
			return err
		}
		for _, r := range batch {
			for _, e := range r.events {
				if len(args) == 0 {
					execution, first = r.executionID, e.ID
				}
				last = e.ID
				args = append(args, r.executionID, e.ID, e.Type, nanos(e.At), orEmpty(e.Body))
				if len(args) == 5*size {
					if err := flush(full); err != nil {
						return err
					}
					args = args[:0]
				}
			}
		}
		if len(args) > 0 {
			if err := flush(rest); err != nil {
				return err
			}
		}
		// Drop the references to the bodies; keep the room.
		clear(args[:cap(args)])
		g.args = args[:0]
		return nil
	})
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	return nil
}
