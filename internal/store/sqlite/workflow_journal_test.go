package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// openJournal opens a Store at a new path, and a second connection to
// the same file that sees only what the Store committed.
func openJournal(t *testing.T) (*sqlite.Store, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "velocity.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return s, other
}

func newExecution(t *testing.T, s *sqlite.Store, name string) int64 {
	t.Helper()
	id, err := s.CreateExecution(context.Background(), store.Execution{
		ARN: "arn:aws:states:us-east-1:123456789012:execution:sm:" + name, Name: name, StateMachine: "sm", Created: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// committed counts the events from first to last of an execution (of
// all executions if it is 0) that other sees committed: of every row of
// workflow_event_batches, the IDs it holds in that range.
func committed(other *sql.DB, execution, first, last int64) (int, error) {
	var n int
	err := other.QueryRow(`SELECT COALESCE(SUM(MIN(last_id, ?3) - MAX(first_id, ?2) + 1), 0) FROM workflow_event_batches
		WHERE (?1 = 0 OR execution_id = ?1) AND first_id <= ?3 AND last_id >= ?2`, execution, first, last).Scan(&n)
	return n, err
}

func journalEvent(id int64) store.Event {
	return store.Event{ID: id, Type: "PassStateEntered", At: time.Unix(0, id), Body: fmt.Appendf(nil, `{"id":%d}`, id)}
}

// Appends from many goroutines at once share commits, and each returns
// only once its own events are committed: another connection reads them
// the moment AppendEvents returns.
func TestGroupCommitDurableOnReturn(t *testing.T) {
	ctx := context.Background()
	s, other := openJournal(t)
	const executions, appendersEach, appends = 4, 25, 20
	var wg sync.WaitGroup
	errs := make(chan error, executions*appendersEach)
	for x := range executions {
		id := newExecution(t, s, fmt.Sprint("x", x))
		for a := range appendersEach {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range appends {
					// Appender a of the execution owns IDs a*1000+…, two per append.
					first := int64(a*1000 + 2*n + 1)
					if err := s.AppendEvents(ctx, id, []store.Event{journalEvent(first), journalEvent(first + 1)}); err != nil {
						errs <- err
						return
					}
					got, err := committed(other, id, first, first+1)
					if err != nil {
						errs <- err
						return
					}
					if got != 2 {
						errs <- fmt.Errorf("execution %d: events %d and %d returned from AppendEvents, %d of them committed", id, first, first+1, got)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if total, err := committed(other, 0, 0, 1<<62); err != nil || total != executions*appendersEach*appends*2 {
		t.Errorf("%d events committed (%v), want %d", total, err, executions*appendersEach*appends*2)
	}
}

// holdWriteLock takes SQLite's write lock on other until the returned
// function is called: the Store's next commit waits for it, and the
// appends made meanwhile queue up as one group.
func holdWriteLock(t *testing.T, other *sql.DB, stmts ...string) (release func()) {
	t.Helper()
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		if _, err := tx.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		if err := tx.Commit(); err != nil {
			t.Error(err)
		}
	}
}

// A transaction that fails for a reason that is no one request's own
// fails every request of its group: none is told its events are durable.
func TestGroupCommitErrorReachesEveryAppender(t *testing.T) {
	ctx := context.Background()
	s, other := openJournal(t)
	id := newExecution(t, s, "full")
	// The trigger stands for a full disk: every insert fails. It takes
	// effect when the lock is released, after the appends queued.
	release := holdWriteLock(t, other,
		`CREATE TRIGGER no_room BEFORE INSERT ON workflow_event_batches BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`)
	const appenders = 30
	var wg sync.WaitGroup
	errs := make([]error, appenders)
	for a := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[a] = s.AppendEvents(ctx, id, []store.Event{journalEvent(int64(a + 1))})
		}()
	}
	time.Sleep(100 * time.Millisecond) // let every appender queue behind the lock
	release()
	wg.Wait()
	for a, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "database or disk is full") {
			t.Errorf("appender %d: %v, want the transaction's error", a, err)
		}
	}
	if total, err := committed(other, 0, 0, 1<<62); err != nil || total != 0 {
		t.Errorf("%d events committed (%v), want none", total, err)
	}
}

// An appender that stops waiting (its context ended) does not leave the
// appenders queued behind it waiting for ever: the lead it would have
// taken is still taken.
func TestGroupCommitCancelledAppender(t *testing.T) {
	ctx := context.Background()
	s, other := openJournal(t)
	id := newExecution(t, s, "cancel")
	release := holdWriteLock(t, other)
	first := make(chan error, 1)
	go func() { first <- s.AppendEvents(ctx, id, []store.Event{journalEvent(1)}) }()
	time.Sleep(50 * time.Millisecond) // the first leads and waits for the lock
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- s.AppendEvents(cctx, id, []store.Event{journalEvent(2)}) }()
	time.Sleep(50 * time.Millisecond) // the second queues first behind it
	third := make(chan error, 1)
	go func() { third <- s.AppendEvents(ctx, id, []store.Event{journalEvent(3)}) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled appender: %v", err)
	}
	release()
	for name, c := range map[string]chan error{"first": first, "third": third} {
		select {
		case err := <-c:
			if err != nil {
				t.Errorf("%s appender: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s appender still waiting", name)
		}
	}
	n1, err1 := committed(other, id, 1, 1)
	n3, err3 := committed(other, id, 3, 3)
	if n := n1 + n3; errors.Join(err1, err3) != nil || n != 2 {
		t.Errorf("%d of events 1 and 3 committed (%v)", n, errors.Join(err1, err3))
	}
}
