package web

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/velocity-ci/velocity/internal/store"
)

// maxLine is the longest line read from a log at once: the runs service
// splits the live stream's lines at the same length, so that the page
// and the stream count lines alike.
const maxLine = 64 * 1024

// maxShown is how many lines of one action the run page shows, its last
// ones: the download link has the whole log, and the page stays light.
const maxShown = 2000

// actionLog is one action's log as the run page shows it: its attempts,
// each with its lines, numbered from 1 across the attempts.
type actionLog struct {
	ID, Stage, Name, Anchor string
	State                   store.Status
	Reason                  string
	Attempts                []attemptLog
	// Lines is how many lines the log has, shown or not: the live stream
	// starts after them.
	Lines int
	// Hidden counts the lines not shown: the oldest beyond maxShown, or
	// those the search did not match.
	Hidden int
}

type attemptLog struct {
	N      int
	Status store.Status
	Reason string
	Lines  []logLine
}

type logLine struct {
	N int
	// raw is the line as written; Spans is raw converted, once the line
	// is known to be shown.
	raw   string
	Spans []span
}

// readActionLog reads the logs of action a's attempts (all of a run's
// attempts may be given); with query, only the lines containing it
// (case-insensitively) are kept.
func readActionLog(a store.Action, attempts []store.Attempt, query string) (actionLog, error) {
	l := actionLog{ID: a.Stage + "/" + a.Name, Stage: a.Stage, Name: a.Name, Anchor: logAnchor(a.Stage, a.Name),
		State: a.Status, Reason: a.Reason}
	query = strings.ToLower(query)
	kept := 0
	for _, at := range attempts {
		if at.Stage != a.Stage || at.Action != a.Name {
			continue
		}
		l.Attempts = append(l.Attempts, attemptLog{N: at.N, Status: at.Status, Reason: at.Reason})
		cur := &l.Attempts[len(l.Attempts)-1]
		err := eachLine(at, func(line string) {
			l.Lines++
			if query != "" && !strings.Contains(strings.ToLower(line), query) {
				l.Hidden++
				return
			}
			cur.Lines = append(cur.Lines, logLine{N: l.Lines, raw: line})
			// A long log is trimmed as it is read: memory stays bounded.
			if kept++; kept > 2*maxShown {
				dropped := trimOldest(l.Attempts, kept-maxShown)
				kept -= dropped
				l.Hidden += dropped
			}
		})
		if err != nil {
			return l, err
		}
	}
	l.Hidden += trimOldest(l.Attempts, kept-maxShown)
	for i := range l.Attempts {
		for j := range l.Attempts[i].Lines {
			ln := &l.Attempts[i].Lines[j]
			ln.Spans = ansiSpans(ln.raw)
		}
	}
	return l, nil
}

// trimOldest drops the n oldest lines of attempts and returns how many
// it dropped.
func trimOldest(attempts []attemptLog, n int) int {
	dropped := 0
	for i := range attempts {
		if n <= 0 {
			break
		}
		k := min(n, len(attempts[i].Lines))
		attempts[i].Lines = attempts[i].Lines[k:]
		n -= k
		dropped += k
	}
	return dropped
}

// eachLine calls fn with each line of at's log, without its newline.
// Lines longer than maxLine come in pieces, and the unfinished last line
// of an attempt still running is left for the live stream to bring
// whole, as the runs service does. A log not written yet (an action
// that printed nothing) has no lines.
func eachLine(at store.Attempt, fn func(string)) error {
	if at.Log == "" {
		return nil
	}
	f, err := os.Open(at.Log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("log of %s/%s attempt %d: %w", at.Stage, at.Action, at.N, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, maxLine)
	for {
		b, err := r.ReadSlice('\n')
		switch {
		case err == nil:
			fn(string(b[:len(b)-1]))
		case errors.Is(err, bufio.ErrBufferFull):
			fn(string(b))
		case errors.Is(err, io.EOF):
			if len(b) > 0 && at.Status.Final() {
				fn(string(b))
			}
			return nil
		default:
			return fmt.Errorf("log of %s/%s attempt %d: %w", at.Stage, at.Action, at.N, err)
		}
	}
}

// copyLogs writes the logs of action k's attempts to w, as they are;
// several attempts are each headed by a line naming it, as 'velocity
// logs RUN ACTION' prints them.
func copyLogs(w io.Writer, k store.Key, attempts []store.Attempt) error {
	var mine []store.Attempt
	for _, at := range attempts {
		if at.Stage == k.Stage && at.Action == k.Name {
			mine = append(mine, at)
		}
	}
	for _, at := range mine {
		if len(mine) > 1 {
			fmt.Fprintf(w, "--- attempt %d ---\n", at.N)
		}
		if err := copyFile(w, at.Log); err != nil {
			return fmt.Errorf("log of %s/%s attempt %d: %w", at.Stage, at.Action, at.N, err)
		}
	}
	return nil
}

func copyFile(w io.Writer, path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
