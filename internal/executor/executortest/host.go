package executortest

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Gone and WaitGone are for tests of executors whose steps are host
// processes (the local one, and end-to-end tests of Velocity on a host):
// they look at pids, which the suite itself never does.

// Gone reports whether pid no longer runs (zombies count as gone).
func Gone(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// WaitGone waits up to d for every pid to be gone.
func WaitGone(t *testing.T, d time.Duration, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, pid := range pids {
		for !Gone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still running after %v", pid, d)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
