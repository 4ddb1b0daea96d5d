package proc

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Marker is an environment entry ("VELOCITY_PROC_MARK=9f3c…") that every
// process started for one purpose inherits: a process that leaves its
// process group (setsid, a double fork) keeps it in /proc/PID/environ,
// which shows the environment a process was started with.
//
// What it cannot see: a process started with an emptied environment
// (env -i) or one that overwrote its initial environment in memory, and
// processes of another user when Velocity is not root (their environ is
// unreadable). Those escape, as they would escape a scan by any other
// inherited attribute short of a cgroup.
//
// A Marker made by NewMarker and told its first process (Started) scans
// only the pids allocated since: a process carrying the marker can have no
// other. Scanning the whole of /proc costs ~5 µs per process (440 µs with
// 85 processes, measured), too much to pay after every action; the window
// costs one read of /proc/loadavg when the action started nothing else.
type Marker struct {
	entry string
	// before is the kernel's fork counter read before the first process
	// was started, to tell a pid window from a pid space that wrapped
	// around since; 0 when unknown.
	before uint64
	first  int // the first process's pid; 0: scan everything
	buf    []byte
	// clock, when the marker came from a ForkClock, learns the fork
	// counter read by window for the owner's next marker.
	clock *ForkClock
}

// MarkerVar is the variable that carries a marker in the environment of
// the processes Velocity starts for actions, sidecars and workflow tasks.
const MarkerVar = "VELOCITY_PROC_MARK"

// NewMarker makes a marker "name=<16 random hex digits>". Call it right
// before starting the first process that carries it, then Started.
func NewMarker(name string) (*Marker, error) {
	m, err := newMarker(name)
	if err != nil {
		return nil, err
	}
	m.before, _ = m.forkCount()
	return m, nil
}

func newMarker(name string) (*Marker, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("proc: marker: %w", err)
	}
	return &Marker{entry: name + "=" + hex.EncodeToString(b[:])}, nil
}

// ForkClock makes the markers of one owner (an executor's attempts, one
// after another or side by side) and shares the reads of the kernel's
// fork counter between them: reading /proc/stat costs 60-90 µs, more than
// the rest of an attempt's process bookkeeping, and a marker needs the
// counter when it is made and, if anything forked meanwhile, when its
// window is scanned. A marker made by the clock starts from the last
// reading taken, by it or by a scan, if that is at most ForkReuse old.
// An older reading is still a lower bound of the counter when the
// marker's first process starts: it only makes the window's check
// against a wrapped pid space (pidWindow) stricter, by the forks of that
// moment. Its zero value is ready; it is safe for concurrent use.
type ForkClock struct {
	mu sync.Mutex
	n  uint64
	at time.Time
}

// ForkReuse bounds the age of a fork counter reading a ForkClock gives a
// new marker: the older the reading, the sooner a busy machine's forks
// make a scan fall back to all of /proc.
const ForkReuse = time.Second

// NewMarker is NewMarker for one of the clock's markers.
func (c *ForkClock) NewMarker(name string) (*Marker, error) {
	m, err := newMarker(name)
	if err != nil {
		return nil, err
	}
	m.clock = c
	c.mu.Lock()
	n, fresh := c.n, c.n > 0 && time.Since(c.at) < ForkReuse
	c.mu.Unlock()
	if fresh {
		m.before = n
		return m, nil
	}
	m.before, _ = m.forkCount()
	return m, nil
}

// note keeps a reading of the fork counter taken at at.
func (c *ForkClock) note(n uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > c.n {
		c.n, c.at = n, at
	}
}

// MarkerFor is a marker for an entry chosen by the caller, found by
// scanning every process: for markers that outlive many process starts.
func MarkerFor(entry string) *Marker { return &Marker{entry: entry} }

// Entry is the environment entry, "NAME=value".
func (m *Marker) Entry() string { return m.entry }

// Started records the pid of the first process started with the marker:
// every other process carrying it has been created after that one. The
// first one itself is not looked for; it leads the process group the
// caller signals itself.
func (m *Marker) Started(pid int) {
	if m.before > 0 {
		m.first = pid
	}
}

// Signal sends sig to every live process that carries the marker and is
// not in process group skipPgid (0: none; the caller signals that group
// itself), and returns the pids it signalled. Signal 0 only checks that
// they exist. It is not safe for concurrent use.
func (m *Marker) Signal(sig unix.Signal, skipPgid int) []int {
	var pids []int
	m.candidates(func(pid int) {
		if m.carried(pid) && m.signal(pid, sig, skipPgid) {
			pids = append(pids, pid)
		}
	})
	return pids
}

// signal sends sig through a pidfd, after checking again that the process
// behind it carries the marker: between the first read of its environ and
// the signal, the pid could have been freed and given to a stranger.
func (m *Marker) signal(pid int, sig unix.Signal, skipPgid int) bool {
	if skipPgid > 0 {
		if g, err := unix.Getpgid(pid); err != nil || g == skipPgid {
			return false
		}
	}
	fd, err := unix.PidfdOpen(pid, 0)
	switch {
	case errors.Is(err, unix.ENOSYS):
		// Before Linux 5.3: the race above is as narrow as a few µs.
		return unix.Kill(pid, sig) == nil
	case err != nil:
		// Gone, or a thread (EINVAL): its process is a candidate itself.
		return false
	}
	defer unix.Close(fd)
	if !m.carried(pid) {
		return false
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0) == nil
}

// carried reports whether pid's initial environment holds the entry. A
// zombie's environ reads empty, so the dead are never counted.
func (m *Marker) carried(pid int) bool {
	env, ok := m.read("/proc/" + strconv.Itoa(pid) + "/environ")
	return ok && hasEntry(env, m.entry)
}

// read reads a whole /proc file into the marker's buffer with three system
// calls (os.ReadFile also stats it and tries the poller); the result is
// valid until the next read.
func (m *Marker) read(path string) ([]byte, bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	if m.buf == nil {
		m.buf = make([]byte, 8<<10)
	}
	n := 0
	for {
		if n == len(m.buf) {
			m.buf = append(m.buf, make([]byte, len(m.buf))...)
		}
		k, err := unix.Read(fd, m.buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, false
		}
		if k == 0 {
			return m.buf[:n], true
		}
		n += k
	}
}

// hasEntry reports whether env, NUL-separated "NAME=value" entries, holds
// entry exactly.
func hasEntry(env []byte, entry string) bool {
	for len(env) > 0 {
		e := env
		if i := bytes.IndexByte(env, 0); i >= 0 {
			e, env = env[:i], env[i+1:]
		} else {
			env = nil
		}
		if string(e) == entry {
			return true
		}
	}
	return false
}

// Kernel constants of pid allocation (kernel/pid.c): after pid_max - 1 the
// next pid is RESERVED_PIDS.
const reservedPids = 300

// directWindow is the widest pid window probed pid by pid; a wider one
// reads /proc's listing (~70 µs) and probes only the pids in the window.
// A missing pid costs ~4 µs to probe.
const directWindow = 16

// candidates calls visit with every pid that may carry the marker: those
// allocated since the first process, or all of them when that window is
// unknown or the pid space may have wrapped around past it.
func (m *Marker) candidates(visit func(pid int)) {
	lo, width, pidMax, ok := m.window()
	switch {
	case !ok:
		m.scanAll(func(int) bool { return true }, visit)
	case width == 0:
	case width <= directWindow:
		for p, k := lo, 0; k < width; k++ {
			p = nextPid(p, pidMax)
			visit(p)
		}
	default:
		m.scanAll(func(p int) bool { return inWindow(p, lo, width, pidMax) }, visit)
	}
}

// nextPid is the pid the kernel tries after p.
func nextPid(p, pidMax int) int {
	if p++; p >= pidMax {
		return reservedPids
	}
	return p
}

// inWindow reports whether p is one of the width pids after lo.
func inWindow(p, lo, width, pidMax int) bool {
	if p <= lo {
		if p < reservedPids {
			return false // never handed out again after a wrap
		}
		p += pidMax - reservedPids
	}
	return p > lo && p <= lo+width
}

// window returns the pids allocated since the first process: the width
// pids after lo, wrapping from pidMax - 1 to reservedPids.
func (m *Marker) window() (lo, width, pidMax int, ok bool) {
	if m.first <= 0 {
		return 0, 0, 0, false
	}
	last, ok := m.lastPid()
	if !ok {
		return 0, 0, 0, false
	}
	if last == m.first {
		// The first process has not been reaped, so its pid cannot have
		// been handed out again: nothing was created since.
		return last, 0, 0, true
	}
	at := time.Now()
	forks, ok := m.forkCount()
	if !ok || forks < m.before {
		return 0, 0, 0, false
	}
	if m.clock != nil {
		m.clock.note(forks, at)
	}
	pidMax, ok = m.readInt("/proc/sys/kernel/pid_max")
	if !ok {
		return 0, 0, 0, false
	}
	width, ok = pidWindow(m.first, last, forks-m.before, pidMax)
	return m.first, width, pidMax, ok
}

// pidWindow is the number of pids allocated after first up to last, given
// that forks processes and threads were created meanwhile, the first
// included; ok is false when that cannot be told.
func pidWindow(first, last int, forks uint64, pidMax int) (width int, ok bool) {
	// The fork counter counts every namespace's forks, so it overstates
	// ours. To come around to the first pid again, the allocator must
	// have handed out every free pid; halving the space assumes no more
	// than half of it is in use at once.
	if pidMax <= 2*reservedPids || forks >= uint64(pidMax-reservedPids)/2 {
		return 0, false
	}
	width = last - first
	if width < 0 {
		width += pidMax - reservedPids
	}
	// Every pid allocated since, the first one's included, was a fork the
	// counter saw. More pids than forks means /proc/loadavg speaks of
	// another pid namespace than /proc lists (a container's /proc mounted
	// differently): trust neither.
	if uint64(width) >= forks {
		return 0, false
	}
	return width, true
}

// scanAll visits the processes /proc lists for which keep is true.
func (m *Marker) scanAll(keep func(int) bool, visit func(int)) {
	d, err := os.Open("/proc")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	self := os.Getpid()
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid == self || !keep(pid) {
			continue
		}
		visit(pid)
	}
}

// lastPid is the pid most recently allocated in our pid namespace, the
// last field of /proc/loadavg ("0.20 0.18 0.12 1/80 11206").
func (m *Marker) lastPid() (int, bool) {
	b, ok := m.read("/proc/loadavg")
	if !ok {
		return 0, false
	}
	b = bytes.TrimSpace(b)
	i := bytes.LastIndexByte(b, ' ')
	pid, err := strconv.Atoi(string(b[i+1:]))
	return pid, err == nil && pid > 0
}

// forkCount is the number of forks since boot, the "processes" line of
// /proc/stat.
func (m *Marker) forkCount() (uint64, bool) {
	b, ok := m.read("/proc/stat")
	if !ok {
		return 0, false
	}
	const key = "\nprocesses "
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	b = b[i+len(key):]
	if j := bytes.IndexByte(b, '\n'); j >= 0 {
		b = b[:j]
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	return n, err == nil && n > 0
}

func (m *Marker) readInt(path string) (int, bool) {
	b, ok := m.read(path)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	return n, err == nil
}

// leftoverPoll is how long KillLeftovers waits before looking again for
// marked processes after killing some: one may have forked as it died.
const leftoverPoll = 5 * time.Millisecond

// KillLeftovers sends SIGKILL to the marked processes outside group
// skipPgid until none is found or within has passed, and returns how many
// it killed. It is for the processes a finished command left behind:
// nothing waits for them, so they get no grace period (a stopped
// command's had theirs with SIGTERM).
func (m *Marker) KillLeftovers(skipPgid int, within time.Duration) int {
	killed := map[int]bool{}
	deadline := time.Now().Add(within)
	for {
		pids := m.Signal(unix.SIGKILL, skipPgid)
		for _, pid := range pids {
			killed[pid] = true
		}
		if len(pids) == 0 || !time.Now().Before(deadline) {
			return len(killed)
		}
		time.Sleep(leftoverPoll)
	}
}
