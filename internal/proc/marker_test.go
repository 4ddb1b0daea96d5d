package proc

import (
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

func startMarked(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "100")
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func waitDead(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("process %d was not killed", cmd.Process.Pid)
	}
}

// Signal reaches the processes carrying the marker, in whatever group and
// session they are, and no other: not one with a marker that merely
// starts the same, not one in the group the caller signals itself.
func TestMarkerSignalsOnlyMarkedProcesses(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    func(t *testing.T) *Marker
	}{
		{"window", func(t *testing.T) *Marker {
			m, err := NewMarker("VELOCITY_TEST_MARK")
			if err != nil {
				t.Fatal(err)
			}
			return m
		}},
		{"whole /proc", func(t *testing.T) *Marker { return MarkerFor("VELOCITY_TEST_MARK=fixed") }},
		// The second marker of a clock starts from the reading of the
		// first one's scan.
		{"window from a shared fork reading", func(t *testing.T) *Marker {
			var c ForkClock
			for i := 0; ; i++ {
				m, err := c.NewMarker("VELOCITY_TEST_MARK")
				if err != nil {
					t.Fatal(err)
				}
				if i == 1 {
					if c.n == 0 || m.before != c.n {
						t.Fatalf("the marker starts from %d, the scan read %d", m.before, c.n)
					}
					return m
				}
				p := startMarked(t, m.Entry())
				m.Started(p.Process.Pid)
				startMarked(t) // something forked since: the scan reads the counter
				m.Signal(syscall.SIGKILL, 0)
				syscall.Kill(p.Process.Pid, syscall.SIGKILL)
				waitDead(t, p)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m(t)
			leader := startMarked(t)
			m.Started(leader.Process.Pid)
			first := startMarked(t, "A=1", m.Entry(), "Z=2")
			second := startMarked(t, m.Entry())
			other := startMarked(t, m.Entry()+"0")
			if n := len(m.Signal(syscall.SIGKILL, second.Process.Pid)); n != 1 {
				t.Errorf("signalled %d processes, want 1 (the one outside the skipped group)", n)
			}
			waitDead(t, first)
			if err := syscall.Kill(second.Process.Pid, 0); err != nil {
				t.Errorf("the process in the skipped group was signalled: %v", err)
			}
			if n := len(m.Signal(syscall.SIGKILL, 0)); n != 1 {
				t.Errorf("signalled %d processes, want 1", n)
			}
			waitDead(t, second)
			if err := syscall.Kill(other.Process.Pid, 0); err != nil {
				t.Errorf("a process with another marker was signalled: %v", err)
			}
			if n := len(m.Signal(syscall.SIGKILL, 0)); n != 0 {
				t.Errorf("signalled %d processes after all were dead", n)
			}
		})
	}
}

// A process created before the first marked one is outside the window:
// even carrying the entry, it is not looked at. This is what keeps the
// scan cheap, so it must hold.
func TestMarkerWindowStartsAtFirstProcess(t *testing.T) {
	m, err := NewMarker("VELOCITY_TEST_MARK")
	if err != nil {
		t.Fatal(err)
	}
	before := startMarked(t, m.Entry())
	leader := startMarked(t)
	m.Started(leader.Process.Pid)
	first := startMarked(t, m.Entry())
	if _, _, _, ok := m.window(); !ok {
		t.Skip("no pid window on this system: every scan reads all of /proc")
	}
	if n := len(m.Signal(syscall.SIGKILL, 0)); n != 1 {
		t.Errorf("signalled %d processes, want only the first marked one", n)
	}
	waitDead(t, first)
	if err := syscall.Kill(before.Process.Pid, 0); err != nil {
		t.Errorf("a process older than the window was signalled: %v", err)
	}
}

func TestHasEntry(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want bool
	}{
		{"M=1\x00", true},
		{"A=b\x00M=1\x00C=d\x00", true},
		{"A=b\x00M=1", true},
		{"A=b\x00M=10\x00", false},
		{"XM=1\x00", false},
		{"A=M=1\x00", false},
		{"", false},
	} {
		if got := hasEntry([]byte(tc.env), "M=1"); got != tc.want {
			t.Errorf("hasEntry(%q) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

// BenchmarkSignalNothingStarted is the cost an action that started no
// other process pays after it ends (the window is empty); with
// BenchmarkSignalWholeProc, what one scan of every process costs here.
func BenchmarkSignalNothingStarted(b *testing.B) {
	for b.Loop() {
		m, err := NewMarker("VELOCITY_BENCH_MARK")
		if err != nil {
			b.Fatal(err)
		}
		last, _ := m.lastPid()
		m.Started(last)
		m.Signal(syscall.SIGKILL, 0)
	}
}

func BenchmarkSignalWholeProc(b *testing.B) {
	m := MarkerFor("VELOCITY_BENCH_MARK=x")
	for b.Loop() {
		m.Signal(syscall.SIGKILL, 0)
	}
}

// The window arithmetic, wrap-around included: pid_max 32768 hands out
// 32767 and then 300.
func TestPidWindow(t *testing.T) {
	const pidMax = 32768
	for _, tc := range []struct {
		name        string
		first, last int
		forks       uint64
		width       int
		ok          bool
	}{
		{"three since", 1000, 1003, 4, 3, true},
		{"more forks elsewhere", 1000, 1003, 50, 3, true},
		{"wrapped", 32760, 302, 20, 10, true},
		{"more pids than forks: another namespace", 1000, 1500, 10, 0, false},
		{"may have come around", 1000, 1003, 20000, 0, false},
	} {
		width, ok := pidWindow(tc.first, tc.last, tc.forks, pidMax)
		if width != tc.width || ok != tc.ok {
			t.Errorf("%s: pidWindow = %d, %v; want %d, %v", tc.name, width, ok, tc.width, tc.ok)
		}
	}
	var got []int
	for p, k := 32765, 0; k < 4; k++ {
		p = nextPid(p, pidMax)
		got = append(got, p)
	}
	if want := []int{32766, 32767, 300, 301}; !slices.Equal(got, want) {
		t.Errorf("pids after 32765: %v, want %v", got, want)
	}
	for p, want := range map[int]bool{32765: false, 32766: true, 32767: true, 299: false, 300: true, 301: true, 302: false, 1: false} {
		if got := inWindow(p, 32765, 4, pidMax); got != want {
			t.Errorf("inWindow(%d) = %v, want %v", p, got, want)
		}
	}
	if !inWindow(1003, 1000, 3, pidMax) || inWindow(1004, 1000, 3, pidMax) || inWindow(1000, 1000, 3, pidMax) {
		t.Error("inWindow is wrong without a wrap")
	}
}
