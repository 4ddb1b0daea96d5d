// Package reaper kills the process groups Velocity started when Velocity
// itself dies, including by SIGKILL, when no code of ours can run.
//
// A small sh process reads "+ PGID" and "- PGID" lines from a pipe; when
// the pipe's write end closes (Velocity exited or was killed: the kernel
// closes it), it kills every group still registered. Pdeathsig reaches only
// the direct child; this reaches what the child started. Processes that
// left their group (setsid, daemons) are registered by a marker instead:
// an environment entry they inherited ("m+ VAR=value"), found in
// /proc/*/environ.
package reaper

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/velocity-ci/velocity/internal/proc"
)

// script is plain sh so that it starts in a millisecond and needs no second
// binary; it ignores the signals a terminal sends so that Ctrl-C cannot take
// it down before it has done its job.
const script = `trap '' INT TERM HUP QUIT
g=""
m=""
while read -r op p; do
  case $op in
  +) g="$g $p" ;;
  -) n=""; for x in $g; do [ "$x" = "$p" ] || n="$n $x"; done; g=$n ;;
  m+) m="$m $p" ;;
  m-) n=""; for x in $m; do [ "$x" = "$p" ] || n="$n $x"; done; m=$n ;;
  esac
done
for x in $g; do kill -9 -$x 2>/dev/null; done
[ -n "$m" ] || exit 0
set --
for x in $m; do set -- "$@" -e "$x"; done
# -z: environ entries end with NUL; -x -F: the exact entry.
for f in $(grep -lzxF "$@" /proc/[0-9]*/environ 2>/dev/null); do
  p=${f#/proc/}
  kill -9 "${p%/environ}" 2>/dev/null
done
exit 0
`

// Reaper owns the sh process. Its methods are safe for concurrent use.
type Reaper struct {
	mu sync.Mutex
	w  io.WriteCloser
	p  *proc.Process
}

// Start starts the reaper.
func Start() (*Reaper, error) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		return nil, fmt.Errorf("reaper: sh is needed to clean up after a crash: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("reaper: pipe: %w", err)
	}
	p, err := proc.Start(context.Background(), proc.Spec{
		Path:  sh,
		Args:  []string{"-c", script},
		Stdin: pr,
		Env:   []string{"PATH=/usr/bin:/bin"},
		// Its own group, so that a signal to Velocity's group spares it.
		Group: true,
	})
	pr.Close()
	if err != nil {
		pw.Close()
		return nil, fmt.Errorf("reaper: start: %w", err)
	}
	return &Reaper{w: pw, p: p}, nil
}

func (r *Reaper) send(op, arg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return
	}
	// A lost line only weakens crash clean-up; the process is unaffected.
	_, _ = fmt.Fprintf(r.w, "%s %s\n", op, arg)
}

// Add registers a process group to kill if Velocity dies.
func (r *Reaper) Add(pgid int) { r.send("+", strconv.Itoa(pgid)) }

// Remove unregisters a group once it is gone, so that a later group that
// happens to get the same id is never killed.
func (r *Reaper) Remove(pgid int) { r.send("-", strconv.Itoa(pgid)) }

// AddMarker registers an environment entry ("VELOCITY_INSTANCE=web-1"):
// if Velocity dies, every process whose environment holds exactly that
// entry is killed, wherever it moved. The entry must not contain spaces
// or line breaks (the pipe's protocol is words).
func (r *Reaper) AddMarker(entry string) error {
	if entry == "" || strings.ContainsAny(entry, " \t\r\n") {
		return fmt.Errorf("reaper: marker %q must be one word", entry)
	}
	r.send("m+", entry)
	return nil
}

// RemoveMarker unregisters a marker once nothing carrying it is left.
func (r *Reaper) RemoveMarker(entry string) { r.send("m-", entry) }

// Close stops the reaper; groups still registered are killed.
func (r *Reaper) Close() error {
	r.mu.Lock()
	w := r.w
	r.w = nil
	r.mu.Unlock()
	if w == nil {
		return nil
	}
	w.Close()
	exit, err := r.p.Wait()
	if err == nil {
		err = exit.Err()
	}
	if err != nil {
		return fmt.Errorf("reaper: %w", err)
	}
	return nil
}
