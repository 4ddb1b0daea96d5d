// Package owner names the Velocity process that created a container, a
// pod or a network ("HOST/PID/START"), so that a later Velocity on the
// same host can tell the leftovers of one that is gone (killed with
// SIGKILL, or a machine that lost power) from those of one that runs.
package owner

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Self is this process's owner value: host name, pid, and the process's
// start time in clock ticks since boot, which tells it from a later
// process that got the same pid.
func Self() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", err
	}
	start, err := startTime(os.Getpid())
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), start), nil
}

// startTime is the start time of process pid in clock ticks since boot.
func startTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	// Fields after the command name start at field 3; starttime is 22.
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return f[19], nil
}

// Alive reports whether owner names a process that still runs, or one on
// another host (or a value it cannot read), which this one cannot judge.
func Alive(owner string) bool {
	parts := strings.Split(owner, "/")
	if len(parts) != 3 {
		return true
	}
	if host, err := os.Hostname(); err != nil || host != parts[0] {
		return true
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return true
	}
	start, err := startTime(pid)
	return err == nil && start == parts[2]
}
