// Package console shows a run in the terminal: a live view with one line
// per action when stdout is a terminal, or streamed lines prefixed with
// [stage/action] otherwise (CI logs, pipes), and the final summary.
package console

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// Console is an engine.Observer that writes to a terminal or a log.
type Console struct {
	mu    sync.Mutex
	out   *bufio.Writer
	live  bool
	width func() int
	// height bounds the live view; rows beyond it are summarised.
	height func() int
	plan   *plan.Plan
	rows   []*row
	byNode map[*plan.Node]*row
	drawn  int // lines of the live view currently on screen
	// stopped is set by Stop: later messages go below the final view
	// without redrawing it.
	stopped bool
	stop    chan struct{}
	done    chan struct{}
}

var _ engine.Observer = (*Console)(nil)

// row is one action's line.
type row struct {
	node     *plan.Node
	status   store.Status
	attempt  int
	started  time.Time
	finished time.Time
	reason   string
	last     string
	lines    LineSplitter
}

// Options configure a Console.
type Options struct {
	// Live selects the redrawn terminal view.
	Live bool
	// Width and Height report the terminal size; nil means 80x24.
	Width, Height func() int
	// Selection is the part of the plan a partial run executes; only its
	// actions get a line. Nil is the whole plan.
	Selection *plan.Selection
}

// New makes a console for p writing to w.
func New(w io.Writer, p *plan.Plan, opt Options) *Console {
	c := &Console{
		out:    bufio.NewWriterSize(w, 64*1024),
		live:   opt.Live,
		width:  opt.Width,
		height: opt.Height,
		plan:   p,
		byNode: map[*plan.Node]*row{},
	}
	if c.width == nil {
		c.width = func() int { return 80 }
	}
	if c.height == nil {
		c.height = func() int { return 24 }
	}
	p.Each(func(_ *plan.Stage, n *plan.Node) {
		if !opt.Selection.Has(n) {
			return
		}
		r := &row{node: n, status: store.Pending}
		c.rows = append(c.rows, r)
		c.byNode[n] = r
	})
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
	if !c.stopped {
		c.clear()
	}
	c.out.WriteString(text)
	if c.live && !c.stopped {
		c.redraw()
	}
	c.out.Flush()
}

// AttemptStarted implements engine.Observer.
func (c *Console) AttemptStarted(n *plan.Node, attempt int, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.byNode[n]
	r.status, r.attempt, r.last = store.Running, attempt, ""
	if attempt == 1 {
		r.started = at
	}
	if !c.live {
		if attempt > 1 {
			fmt.Fprintf(c.out, "==> %s started (attempt %d of %d)\n", n.ID(), attempt, n.Attempts)
		} else {
			fmt.Fprintf(c.out, "==> %s started\n", n.ID())
		}
		c.out.Flush()
	}
}

// Output implements engine.Observer.
func (c *Console) Output(n *plan.Node, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.byNode[n]
	r.lines.Feed(p, func(line []byte) { c.line(r, line) })
	if !c.live {
		c.out.Flush()
	}
}

func (c *Console) line(r *row, line []byte) {
	if c.live {
		if s := strings.TrimSpace(printable(line)); s != "" {
			r.last = s
		}
		return
	}
	fmt.Fprintf(c.out, "[%s] %s\n", r.node.ID(), printable(line))
}

// AttemptFinished implements engine.Observer.
func (c *Console) AttemptFinished(n *plan.Node, a store.Attempt, final bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.byNode[n]
	r.lines.Flush(func(line []byte) { c.line(r, line) })
	took := a.Finished.Sub(a.Started)
	if !final {
		r.reason = fmt.Sprintf("attempt %d: %s, retrying", a.N, a.Reason)
		if !c.live {
			fmt.Fprintf(c.out, "==> %s attempt %d failed after %s: %s; retrying\n", n.ID(), a.N, duration(took), a.Reason)
			c.out.Flush()
		}
		return
	}
	r.status, r.finished, r.reason = a.Status, a.Finished, a.Reason
	if !c.live {
		switch {
		case a.Status == store.Succeeded:
			fmt.Fprintf(c.out, "==> %s succeeded in %s\n", n.ID(), duration(took))
		case a.Status == store.Cached:
			fmt.Fprintf(c.out, "==> %s cached: %s\n", n.ID(), a.Reason)
		case a.Status == store.Failed && n.AllowFailure:
			fmt.Fprintf(c.out, "==> %s failed (allowed) after %s: %s\n", n.ID(), duration(took), a.Reason)
		default:
			fmt.Fprintf(c.out, "==> %s %s after %s: %s\n", n.ID(), a.Status, duration(took), a.Reason)
		}
		c.out.Flush()
	}
}

// Skipped implements engine.Observer.
func (c *Console) Skipped(n *plan.Node, status store.Status, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.byNode[n]
	r.status, r.reason = status, reason
	if !c.live && n.Kind != "on_failure" {
		fmt.Fprintf(c.out, "==> %s %s: %s\n", n.ID(), status, reason)
		c.out.Flush()
	}
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
			if r.status == store.Running || r.status == store.Failed && !r.node.AllowFailure {
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
		nameWidth = max(nameWidth, len(r.node.ID()))
	}
	for _, r := range show {
		if r.node.Kind == "on_failure" && r.status == store.Skipped {
			continue
		}
		line := fmt.Sprintf("%s %-*s %7s", icon(r.status), nameWidth, r.node.ID(), r.elapsed(now))
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
