package console

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/velocity-ci/velocity/internal/store"
)

// DefaultTailLines is how many lines of a failed action's log the summary
// shows unless told otherwise: enough for a compiler error or a failed
// test's assertion with its context, short enough not to bury the table.
const DefaultTailLines = 20

// maxTailBytes bounds how much of the end of a log the summary reads to
// find its last lines, so that a log of a few enormous lines (a minified
// bundle, a binary dump) cannot flood the terminal; a line cut by it is
// shown from "…".
const maxTailBytes = 256 * 1024

// FailureOptions configure Failures.
type FailureOptions struct {
	// Lines is how many of the last lines of each failed action's log to
	// show; 0 shows only where the full log is.
	Lines int
	// Color keeps the terminal colours of the header.
	Color bool
	// Velocity is the command line that reaches the run's data directory
	// ("velocity", or "velocity --data-dir DIR"), for the logs command
	// the summary suggests; empty means "velocity".
	Velocity string
}

// Failures writes, for each action that failed the run, the last lines of
// its last attempt's stored log (secrets are masked there already), where
// that whole log is, and the command that shows it: the failing lines of
// an action are otherwise lost among the other actions' output.
func Failures(w io.Writer, runID int64, actions []store.Action, attempts []store.Attempt, opt FailureOptions) {
	last := map[store.Key]store.Attempt{}
	for _, at := range attempts {
		k := store.Key{Stage: at.Stage, Name: at.Action}
		if at.N >= last[k].N {
			last[k] = at
		}
	}
	velocity := opt.Velocity
	if velocity == "" {
		velocity = "velocity"
	}
	for _, a := range actions {
		if a.Status != store.Failed || a.AllowFailure {
			continue
		}
		at, ok := last[a.Key()]
		if !ok || at.Log == "" {
			continue
		}
		id := a.Stage + "/" + a.Name
		header := fmt.Sprintf("%s %s failed", icon(store.Failed), id)
		if a.Reason != "" {
			header += ": " + a.Reason
		}
		if at.N > 1 {
			header += fmt.Sprintf(" (attempt %d)", at.N)
		}
		if !opt.Color {
			header = ansi.ReplaceAllString(header, "")
		}
		var lines []string
		var whole bool
		var err error
		if opt.Lines > 0 {
			lines, whole, err = tail(at.Log, opt.Lines)
		}
		switch {
		case err != nil:
			fmt.Fprintf(w, "\n%s\n  cannot read its log: %v\n", header, err)
			continue
		case opt.Lines == 0:
			fmt.Fprintf(w, "\n%s\n", header)
		case len(lines) == 0:
			fmt.Fprintf(w, "\n%s; its log is empty\n", header)
		case whole:
			fmt.Fprintf(w, "\n%s; its log:\n", header)
		default:
			fmt.Fprintf(w, "\n%s; the last %d lines of its log:\n", header, len(lines))
		}
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
		fmt.Fprintf(w, "  full log: %s (or %s logs %d %s)\n", at.Log, velocity, runID, id)
	}
}

// tail returns the last n lines of the file at path, made safe for a
// terminal, reading only its end; whole reports that they are all of it.
func tail(path string, n int) (lines []string, whole bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	size := fi.Size()
	end := size
	var buf []byte
	// Read backwards until the window holds n complete lines (n+1
	// newlines, the last one ending the file's last line) or the bound.
	for end > 0 && size-end < maxTailBytes && bytes.Count(buf, []byte("\n")) <= n {
		chunk := min(32*1024, end, maxTailBytes-(size-end))
		b := make([]byte, chunk, chunk+int64(len(buf)))
		if _, err := f.ReadAt(b, end-chunk); err != nil && err != io.EOF {
			return nil, false, err
		}
		buf = append(b, buf...)
		end -= chunk
	}
	text := strings.TrimSuffix(string(buf), "\n")
	if text == "" {
		return nil, end == 0, nil
	}
	all := strings.Split(text, "\n")
	whole = end == 0 && len(all) <= n
	cut := false
	if len(all) > n {
		all = all[len(all)-n:]
	} else if end > 0 {
		// The bound stopped the reading: the window's first line is cut
		// unless a newline precedes it.
		var before [1]byte
		_, err := f.ReadAt(before[:], end-1)
		cut = err != nil || before[0] != '\n'
	}
	for i, l := range all {
		all[i] = printable([]byte(l))
	}
	if cut {
		all[0] = "…" + all[0]
	}
	return all, whole, nil
}
