package proc

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// GroupAlive reports whether a process other than a zombie is in process
// group pgid. kill(-pgid, 0) cannot tell: it succeeds for a zombie leader
// that has deliberately not been reaped yet. Without /proc it answers
// false.
func GroupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, pgrp, ok := Stat(pid)
		if ok && pgrp == pgid && state != 'Z' && state != 'X' {
			return true
		}
	}
	return false
}

// Stat reads a process's state ('R', 'S', 'Z'...) and process group from
// /proc; ok is false when the process is gone.
func Stat(pid int) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name may hold spaces and parentheses; the fields we
	// want follow its closing parenthesis: state, ppid, pgrp.
	j := bytes.LastIndexByte(b, ')')
	if j < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[j+1:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, false
	}
	pgrp, err = strconv.Atoi(f[2])
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], pgrp, true
}
