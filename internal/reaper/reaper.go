// Package reaper kills the process groups Velocity started when Velocity
// itself dies, including by SIGKILL, when no code of ours can run.
//
// A small sh process waits for the end of a pipe whose write end only
// Velocity holds; when it closes (Velocity exited or was killed: the
// kernel closes it), the process reads the registry Velocity kept for it
// and kills every group and marked process still in it. Pdeathsig reaches
// only the direct child; this reaches what the child started. Processes
// that left their group (setsid, daemons) are registered by a marker
// instead: an environment entry they inherited ("VAR=value"), found in
// /proc/*/environ.
//
// The registry is a file in memory (memfd) the sh process inherits, one
// fixed-size slot per entry: "+ PGID" or "m+ VAR=value", or a blank slot.
// Registering costs Velocity one pwrite and the sh process nothing: it
// reads the file once, at the end. A slot is written by one pwrite that
// never crosses a page, so a kill of Velocity leaves every slot either as
// it was or as it was being made, never half written.
package reaper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/velocity-ci/velocity/internal/proc"
)

// slotSize is the size of one registry entry: a power of two no larger
// than a page, so that a slot never spans two pages (see the package
// documentation).
const slotSize = 256

// script is plain sh so that it starts in a millisecond and needs no second
// binary; it ignores the signals a terminal sends so that Ctrl-C cannot take
// it down before it has done its job. Velocity never writes to its stdin:
// read returns when Velocity's end of the pipe closes. The registry is its
// descriptor 3, read from offset 0 (Velocity writes it with pwrite, which
// leaves the shared offset alone).
const script = `trap '' INT TERM HUP QUIT
while read -r _; do :; done
g=""
m=""
while read -r op p; do
  case $op in
  +) g="$g $p" ;;
  m+) m="$m $p" ;;
  esac
done <&3
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
	w  *os.File // the pipe's write end; nil once closed
	// registry is the file the sh process reads at the end; slots maps
	// each entry to its slot, free lists the blank slots below next.
	registry *os.File
	slots    map[string]int64
	free     []int64
	next     int64
	buf      [slotSize]byte
	p        *proc.Process
}

// Start starts the reaper.
func Start() (*Reaper, error) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		return nil, fmt.Errorf("reaper: sh is needed to clean up after a crash: %w", err)
	}
	registry, err := newRegistry()
	if err != nil {
		return nil, fmt.Errorf("reaper: registry: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		registry.Close()
		return nil, fmt.Errorf("reaper: pipe: %w", err)
	}
	p, err := proc.Start(context.Background(), proc.Spec{
		Path:       sh,
		Args:       []string{"-c", script},
		Stdin:      pr,
		ExtraFiles: []*os.File{registry},
		Env:        []string{"PATH=/usr/bin:/bin"},
		// Its own group, so that a signal to Velocity's group spares it.
		Group: true,
	})
	pr.Close()
	if err != nil {
		pw.Close()
		registry.Close()
		return nil, fmt.Errorf("reaper: start: %w", err)
	}
	return &Reaper{w: pw, registry: registry, slots: map[string]int64{}, p: p}, nil
}

// newRegistry is a file only the reaper and we can reach: a memfd, or on
// a kernel without memfd_create an unlinked temporary file.
func newRegistry() (*os.File, error) {
	fd, err := unix.MemfdCreate("velocity-reaper", unix.MFD_CLOEXEC)
	if err == nil {
		return os.NewFile(uintptr(fd), "velocity-reaper"), nil
	}
	if !errors.Is(err, unix.ENOSYS) {
		return nil, err
	}
	f, err := os.CreateTemp("", "velocity-reaper-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

// add writes entry into a slot of its own unless it has one.
func (r *Reaper) add(entry string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return
	}
	if _, ok := r.slots[entry]; ok {
		return
	}
	slot := r.next
	if n := len(r.free); n > 0 {
		slot, r.free = r.free[n-1], r.free[:n-1]
	} else {
		r.next++
	}
	r.slots[entry] = slot
	r.write(slot, entry)
}

// remove blanks entry's slot.
func (r *Reaper) remove(entry string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	slot, ok := r.slots[entry]
	if !ok || r.w == nil {
		return
	}
	delete(r.slots, entry)
	r.free = append(r.free, slot)
	r.write(slot, "")
}

// write puts entry into slot with one pwrite, padded with spaces up to the
// line break that ends the slot. A lost write only weakens crash clean-up;
// the process is unaffected.
func (r *Reaper) write(slot int64, entry string) {
	b := r.buf[:]
	n := copy(b, entry)
	for i := n; i < slotSize-1; i++ {
		b[i] = ' '
	}
	b[slotSize-1] = '\n'
	_, _ = r.registry.WriteAt(b, slot*slotSize)
}

// Add registers a process group to kill if Velocity dies.
func (r *Reaper) Add(pgid int) { r.add("+ " + strconv.Itoa(pgid)) }

// Remove unregisters a group once it is gone, so that a later group that
// happens to get the same id is never killed.
func (r *Reaper) Remove(pgid int) { r.remove("+ " + strconv.Itoa(pgid)) }

// AddMarker registers an environment entry ("VELOCITY_INSTANCE=web-1"):
// if Velocity dies, every process whose environment holds exactly that
// entry is killed, wherever it moved. The entry must be one word (no
// spaces or line breaks) of at most 250 bytes.
func (r *Reaper) AddMarker(entry string) error {
	if entry == "" || strings.ContainsAny(entry, " \t\r\n") {
		return fmt.Errorf("reaper: marker %q must be one word", entry)
	}
	if len(entry) > slotSize-6 {
		return fmt.Errorf("reaper: marker %q is longer than %d bytes", entry, slotSize-6)
	}
	r.add("m+ " + entry)
	return nil
}

// RemoveMarker unregisters a marker once nothing carrying it is left.
func (r *Reaper) RemoveMarker(entry string) { r.remove("m+ " + entry) }

// Close stops the reaper; groups still registered are killed.
func (r *Reaper) Close() error {
	r.mu.Lock()
	w := r.w
	r.w = nil
	if w != nil && len(r.slots) == 0 {
		// Nothing left to kill: an empty registry spares the sh process
		// reading every blank slot, one read(2) per byte as dash reads,
		// while we wait for it (512 reads after a run of two actions
		// at a time).
		_ = r.registry.Truncate(0)
	}
	r.mu.Unlock()
	if w == nil {
		return nil
	}
	w.Close()
	exit, err := r.p.Wait()
	r.registry.Close()
	if err == nil {
		err = exit.Err()
	}
	if err != nil {
		return fmt.Errorf("reaper: %w", err)
	}
	return nil
}
