package sqlite

import (
	"context"
	"database/sql"
	"fmt"
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
	// insert is insertBatchSQL, prepared on first use by the leader;
	// only one goroutine leads at a time.
	insert *sql.Stmt
	// encoders encode the requests' events, on the callers' goroutines,
	// before they queue: the leader then only writes.
	encoders encoders
}

// appendRequest is one AppendEvents call waiting for its group's commit.
type appendRequest struct {
	executionID int64
	rows        []batchRow
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
	g := &s.journal
	req := &appendRequest{executionID: executionID, rows: g.encoders.encode(events), done: make(chan appendOutcome, 1)}
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

// insertBatchSQL writes one run of consecutive events (?2 to ?3 of
// execution ?1) as one row, unless one of its IDs is recorded already:
// then it writes nothing. Rows of either table hold consecutive IDs and
// never share one, so the run overlaps a batch row only if the row
// starting last at or before its end reaches its start, found by one
// seek of the index; and a per-event row of an earlier version only if
// one lies between its ends.
const insertBatchSQL = `INSERT INTO workflow_event_batches (execution_id, first_id, last_id, events)
	SELECT ?1, ?2, ?3, ?4
	WHERE COALESCE((SELECT last_id FROM workflow_event_batches
		WHERE execution_id = ?1 AND first_id <= ?3 ORDER BY first_id DESC LIMIT 1) < ?2, 1)
	AND NOT EXISTS (SELECT 1 FROM workflow_events WHERE execution_id = ?1 AND id BETWEEN ?2 AND ?3)`

// insertBatch returns the prepared insertBatchSQL; only the leader calls
// it.
func (s *Store) insertBatch(ctx context.Context) (*sql.Stmt, error) {
	g := &s.journal
	if g.insert != nil {
		return g.insert, nil
	}
	stmt, err := s.db.PrepareContext(ctx, insertBatchSQL)
	if err != nil {
		return nil, err
	}
	g.insert = stmt
	return stmt, nil
}

// maxKeptBuffer caps the encoding buffers kept between appends: one huge
// batch must not hold its memory for the rest of the process.
const maxKeptBuffer = 1 << 20

// commitEvents writes the events of batch in one transaction, a row per
// run of consecutive IDs of a request (one per request, as the
// interpreter numbers a batch's events in order); only the leader calls
// it.
func (s *Store) commitEvents(batch []*appendRequest) error {
	// The callers' contexts differ and any may be cancelled; the commit
	// belongs to all of them, so it runs on its own.
	ctx := context.Background()
	// The statement is prepared before the transaction, which holds the
	// only connection.
	insert, err := s.insertBatch(ctx)
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		stmt := tx.StmtContext(ctx, insert)
		for _, r := range batch {
			for _, row := range r.rows {
				res, err := stmt.ExecContext(ctx, r.executionID, row.first, row.last, row.data)
				// The unique index on the first ID cannot fail after the
				// check, but would say the same.
				recorded := isConstraint(err)
				if err != nil && !recorded {
					return err
				}
				if !recorded {
					n, err := res.RowsAffected()
					if err != nil {
						return err
					}
					recorded = n == 0
				}
				if recorded {
					return fmt.Errorf("events %d to %d of execution %d: %w", row.first, row.last, r.executionID, store.ErrExists)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	return nil
}
