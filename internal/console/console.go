// Package console shows a run in the terminal: a live view with one line
// per action when stdout is a terminal, or streamed lines prefixed with
// [stage/action] otherwise (CI logs, pipes), and the final summary.
package console

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// Console renders a run's events (runs.Event) to a terminal or a log.
// Its methods may be called from several goroutines.
type Console struct {
	mu    sync.Mutex
	out   *bufio.Writer
	live  bool
	width func() int
	// height bounds the live view; rows beyond it are summarised.
	height func() int
	runID  int64
	rows   []*row
	byID   map[string]*row
	drawn  int // lines of the live view currently on screen
	// stopped is set by Stop: later messages go below the final view
	// without redrawing it.
	stopped bool
	stop    chan struct{}
	done    chan struct{}
}

// row is one action's line.
type row struct {
	action   runs.Action
	status   store.Status
	attempt  int
	started  time.Time
	finished time.Time
	reason   string
	last     string
}

// Options configure a Console.
type Options struct {
	// Live selects the redrawn terminal view.
	Live bool
	// Width and Height report the terminal size; nil means 80x24.
	Width, Height func() int
}

// New makes a console writing to w. Its rows come with the run's
// RunStarted event: one per action the run takes.
func New(w io.Writer, opt Options) *Console {
	c := &Console{
		out:    bufio.NewWriterSize(w, 64*1024),
		live:   opt.Live,
		width:  opt.Width,
		height: opt.Height,
		byID:   map[string]*row{},
	}
	if c.width == nil {
		c.width = func() int { return 80 }
	}
	if c.height == nil {
		c.height = func() int { return 24 }
	}
	return c
}

// Start begins redrawing the live view; plain output needs no ticker.
func (c *Console) Start() {
	if !c.live {
		return
	}
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				c.mu.Lock()
				c.redraw()
				c.mu.Unlock()
			}
		}
	}()
}

// Stop draws the final state and stops redrawing.
func (c *Console) Stop() {
	if c.stop != nil {
		close(c.stop)
		<-c.done
		c.stop = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live && !c.stopped {
		c.redraw()
	}
	c.stopped = true
	c.out.Flush()
}

// Printf writes a message line above the live view.
func (c *Console) Printf(format string, args ...any) {
	c.message(fmt.Sprintf(format, args...))
}

// message writes text above the live view, or below its final state
// once stopped.
func (c *Console) message(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.messageLocked(text)
}

func (c *Console) messageLocked(text string) {
	if !c.stopped {
		c.clear()
	}
	c.out.WriteString(text)
	if c.live && !c.stopped {
		c.redraw()
	}
	c.out.Flush()
}

// Handle renders one event of the run.
func (c *Console) Handle(e runs.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case e.RunStarted != nil:
		c.runStarted(e.RunID, e.RunStarted)
	case e.Message != nil:
		c.messageLocked(messageText(e.Message))
	case e.AttemptStarted != nil:
		c.attemptStarted(e.AttemptStarted, e.Time)
	case e.Output != nil:
		c.output(e.Output)
	case e.AttemptFinished != nil:
		c.attemptFinished(e.AttemptFinished)
	case e.ActionSkipped != nil:
		c.skipped(e.ActionSkipped)
	case e.ApprovalWaiting != nil:
		c.messageLocked(fmt.Sprintf("velocity: stage %s waits for approval: run 'velocity approve %d' (or 'velocity approve %d --reject')\n",
			e.ApprovalWaiting.Stage, e.RunID, e.RunID))
	case e.ApprovalDecided != nil:
		d := e.ApprovalDecided
		c.messageLocked(fmt.Sprintf("velocity: stage %s %s by %s\n", d.Stage, d.Status, d.By))
	case e.Deployed != nil:
		c.deployed(e.Deployed)
	}
}

func (c *Console) runStarted(id int64, e *runs.RunStarted) {
	c.runID = id
	for _, st := range e.Stages {
		for _, a := range st.Actions {
			r := &row{action: a, status: store.Pending}
			c.rows = append(c.rows, r)
			c.byID[a.ID] = r
		}
	}
}

// row returns the line of action id, making one for an action the
// RunStarted event did not name rather than losing what it says.
func (c *Console) row(id string) *row {
	r := c.byID[id]
	if r == nil {
		r = &row{action: runs.Action{ID: id, Kind: "action", Attempts: 1}, status: store.Pending}
		c.rows = append(c.rows, r)
		c.byID[id] = r
	}
	return r
}

// messageText is how a message reads in the terminal: a note as it is;
// a log record or warning as "velocity: warning: text" or "[stage/action]
// warning: text", its further lines indented; a cache-miss reason as
// "[stage/action] reason".
func messageText(m *runs.Message) string {
	if m.Level == "" && m.Action == "" {
		return m.Text + "\n"
	}
	prefix := "velocity: "
	if m.Action != "" {
		prefix = "[" + m.Action + "] "
	}
	if m.Level == "" {
		return prefix + m.Text + "\n"
	}
	lines := strings.Split(prefix+m.Level+": "+m.Text, "\n")
	for i, l := range lines {
		lines[i] = printable([]byte(l))
	}
	return strings.Join(lines, "\n  ") + "\n"
}

func (c *Console) attemptStarted(e *runs.AttemptStarted, at time.Time) {
	r := c.row(e.Action)
	r.status, r.attempt, r.last = store.Running, e.Attempt, ""
	if e.Attempt == 1 {
		r.started = at
	}
	if !c.live {
		if e.Attempt > 1 {
			fmt.Fprintf(c.out, "==> %s started (attempt %d of %d)\n", e.Action, e.Attempt, e.Of)
		} else {
			fmt.Fprintf(c.out, "==> %s started\n", e.Action)
		}
		c.out.Flush()
	}
}

func (c *Console) output(e *runs.Output) {
	r := c.row(e.Action)
	if c.live {
		if s := strings.TrimSpace(printable([]byte(e.Text))); s != "" {
			r.last = s
		}
		return
	}
	// Lines come in bursts: Flush writes them when the burst ends.
	fmt.Fprintf(c.out, "[%s] %s\n", e.Action, printable([]byte(e.Text)))
}

// Flush writes what Handle buffered: output lines wait for it (or for the
// buffer to fill), so that a burst of lines costs one write, not one each.
func (c *Console) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Flush()
}

func (c *Console) attemptFinished(a *runs.AttemptFinished) {
	r := c.row(a.Action)
	id := a.Action
	took := a.Finished.Sub(a.Started)
	if !a.Final {
		r.reason = fmt.Sprintf("attempt %d: %s, retrying", a.Attempt, a.Reason)
		if !c.live {
			fmt.Fprintf(c.out, "==> %s attempt %d failed after %s: %s; retrying\n", id, a.Attempt, duration(took), a.Reason)
			c.out.Flush()
		}
		return
	}
	r.status, r.finished, r.reason = a.Status, a.Finished, a.Reason
	if !c.live {
		switch {
		case a.Status == store.Succeeded:
			fmt.Fprintf(c.out, "==> %s succeeded in %s\n", id, duration(took))
		case a.Status == store.Cached:
			fmt.Fprintf(c.out, "==> %s cached: %s\n", id, a.Reason)
		case a.Status == store.Failed && r.action.AllowFailure:
			fmt.Fprintf(c.out, "==> %s failed (allowed) after %s: %s\n", id, duration(took), a.Reason)
		default:
			fmt.Fprintf(c.out, "==> %s %s after %s: %s\n", id, a.Status, duration(took), a.Reason)
		}
		c.out.Flush()
	}
}

func (c *Console) skipped(e *runs.ActionSkipped) {
	r := c.row(e.Action)
	r.status, r.reason = e.Status, e.Reason
	if !c.live && r.action.Kind != "on_failure" {
		fmt.Fprintf(c.out, "==> %s %s: %s\n", e.Action, e.Status, e.Reason)
		c.out.Flush()
	}
}

// deployed names the services a run deployed through velocity serve,
// which keeps them running; hosted ones are announced while served.
func (c *Console) deployed(e *runs.Deployed) {
	if e.Hosted || len(e.URLs) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "velocity: deployed through %s (%s); the services keep running there:\n", cmp.Or(e.Host, "velocity serve"), e.Server)
	for _, u := range e.URLs {
		fmt.Fprintf(&b, "  %s\n", u)
	}
	c.messageLocked(b.String())
}

// clear erases the live view so that other text can be printed.
func (c *Console) clear() {
	if !c.live || c.drawn == 0 {
		return
	}
	fmt.Fprintf(c.out, "\x1b[%dA\x1b[J", c.drawn)
	c.drawn = 0
}

// redraw repaints the live view in place.
func (c *Console) redraw() {
	c.clear()
	width := c.width()
	if width < 20 {
		width = 20
	}
	lines := c.view(time.Now(), width, max(c.height()-2, 5))
	for _, l := range lines {
		c.out.WriteString(l)
		c.out.WriteString("\x1b[K\n")
	}
	c.drawn = len(lines)
	c.out.Flush()
}

// view renders the rows, summarising when they do not fit.
func (c *Console) view(now time.Time, width, height int) []string {
	show := c.rows
	hidden := map[store.Status]int{}
	if len(c.rows) > height {
		show = nil
		for _, r := range c.rows {
			if r.status == store.Running || r.status == store.Failed && !r.action.AllowFailure {
				show = append(show, r)
			} else {
				hidden[r.status]++
			}
		}
		if len(show) > height-1 {
			for _, r := range show[height-1:] {
				hidden[r.status]++
			}
			show = show[:height-1]
		}
	}
	var out []string
	nameWidth := 0
	for _, r := range show {
		nameWidth = max(nameWidth, len(r.action.ID))
	}
	for _, r := range show {
		if r.action.Kind == "on_failure" && r.status == store.Skipped {
			continue
		}
		line := fmt.Sprintf("%s %-*s %7s", icon(r.status), nameWidth, r.action.ID, r.elapsed(now))
		detail := r.last
		if r.status != store.Running && r.status != store.Succeeded && r.reason != "" {
			detail = r.reason
		} else if r.status == store.Running && r.reason != "" && r.last == "" {
			detail = r.reason
		}
		if detail != "" {
			line += "  " + detail
		}
		out = append(out, visibleTrim(line, width))
	}
	if len(hidden) > 0 {
		var parts []string
		for _, st := range []store.Status{store.Succeeded, store.Cached, store.Pending, store.Skipped, store.Cancelled, store.Failed} {
			if hidden[st] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", hidden[st], st))
			}
		}
		out = append(out, visibleTrim("  … "+strings.Join(parts, ", "), width))
	}
	return out
}

func (r *row) elapsed(now time.Time) string {
	switch {
	case r.started.IsZero():
		return ""
	case r.finished.IsZero():
		return duration(now.Sub(r.started))
	}
	return duration(r.finished.Sub(r.started))
}

func icon(s store.Status) string {
	switch s {
	case store.Running:
		return "\x1b[33m●\x1b[0m"
	case store.Succeeded:
		return "\x1b[32m✓\x1b[0m"
	case store.Cached:
		return "\x1b[36m↺\x1b[0m"
	case store.Failed:
		return "\x1b[31m✗\x1b[0m"
	case store.Cancelled, store.Interrupted:
		return "\x1b[31m■\x1b[0m"
	case store.Skipped:
		return "\x1b[2m-\x1b[0m"
	}
	return "\x1b[2m·\x1b[0m"
}

// duration rounds for humans: 85ms, 1.2s, 2m05s.
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// Duration formats d the way the console does.
func Duration(d time.Duration) string { return duration(d) }
