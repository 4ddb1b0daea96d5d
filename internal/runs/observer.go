package runs

import (
	"fmt"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// observer turns what the engine reports into events. The engine calls
// it from several goroutines, one per running node at most; output
// arrives in chunks and leaves as lines.
type observer struct {
	feed *feed
	// project and hook report final attempts; hook may be nil.
	project string
	hook    Hook
	mu      sync.Mutex
	// lines holds each node's unfinished last line.
	lines   map[*plan.Node]*LineSplitter
	attempt map[*plan.Node]int
}

var (
	_ engine.Observer     = (*observer)(nil)
	_ engine.MissObserver = (*observer)(nil)
)

func newObserver(f *feed) *observer {
	return &observer{feed: f, lines: map[*plan.Node]*LineSplitter{}, attempt: map[*plan.Node]int{}}
}

// AttemptStarted implements engine.Observer.
func (o *observer) AttemptStarted(n *plan.Node, attempt int, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.attempt[n] = attempt
	o.feed.emit(Event{Time: at, Kind: KindAttemptStarted, AttemptStarted: &AttemptStarted{Action: n.ID(), Attempt: attempt, Of: n.Attempts}})
}

// Output implements engine.Observer.
func (o *observer) Output(n *plan.Node, p []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	// One time for the lines of a chunk: they came together.
	now := time.Now()
	o.splitter(n).Feed(p, func(line []byte) { o.line(n, line, now) })
}

func (o *observer) splitter(n *plan.Node) *LineSplitter {
	s := o.lines[n]
	if s == nil {
		s = &LineSplitter{}
		o.lines[n] = s
	}
	return s
}

func (o *observer) line(n *plan.Node, line []byte, at time.Time) {
	o.feed.emit(Event{Time: at, Kind: KindOutput, Output: &Output{Action: n.ID(), Attempt: o.attempt[n], Stream: "combined", Text: string(line)}})
}

// AttemptFinished implements engine.Observer.
func (o *observer) AttemptFinished(n *plan.Node, a store.Attempt, final bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.splitter(n).Flush(func(line []byte) { o.line(n, line, a.Finished) })
	o.feed.emit(Event{Kind: KindAttemptFinished, AttemptFinished: &AttemptFinished{
		Action: n.ID(), Attempt: a.N, Status: a.Status, ExitCode: a.ExitCode, Reason: a.Reason,
		Started: a.Started, Finished: a.Finished, Final: final,
	}})
	if final && o.hook != nil {
		o.hook.ActionFinished(ActionEnd{Project: o.project, Action: n.ID(), Status: a.Status,
			Duration: a.Finished.Sub(a.Started), Keyed: a.CacheKey != ""})
	}
}

// Skipped implements engine.Observer.
func (o *observer) Skipped(n *plan.Node, status store.Status, reason string) {
	o.feed.emit(Event{Kind: KindActionSkipped, ActionSkipped: &ActionSkipped{Action: n.ID(), Status: status, Reason: reason}})
}

// CacheMiss implements engine.MissObserver: the reason is a message about
// the action, so that an unexpected rebuild is explained where it is seen.
func (o *observer) CacheMiss(n *plan.Node, reason string) {
	o.feed.emit(Event{Kind: KindMessage, Message: &Message{Action: n.ID(), Text: reason}})
}

// note emits a message shown as it is.
func (f *feed) note(format string, args ...any) {
	f.emit(Event{Kind: KindMessage, Message: &Message{Text: fmt.Sprintf(format, args...)}})
}
