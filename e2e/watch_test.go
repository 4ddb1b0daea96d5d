package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// linesOf picks the output lines of one action out of a plain console.
func linesOf(out, action string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "["+action+"] "); ok {
			lines = append(lines, rest)
		}
	}
	return lines
}

// Two terminals watch one run that velocity serve executes: the one that
// started it (velocity run --server) and one that comes late (velocity
// watch). Both see every line of the action, once and in order, and the
// same end; Ctrl-C in the watcher stops watching, not the run.
func TestTwoTerminalsWatchOneRun(t *testing.T) {
	dir := project(t, map[string]string{
		"velocity.yml": `
name: watched
stages:
  - name: build
    actions:
      - { name: count, run: 'for i in $(seq 1 60); do echo "line $i"; sleep 0.02; done' }
`,
	})
	gitProject(t, dir)
	e := newEnv(t)
	startServer(t, e)

	first := &output{}
	starter := e.command(dir, "run", "--server", "--no-cache", "--progress", "plain")
	starter.Stdout, starter.Stderr = first, first
	if err := starter.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- starter.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(first.String(), "[build/count] line 10\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the run never printed line 10:\n%s", first)
		}
		time.Sleep(10 * time.Millisecond)
	}
	late := e.run(dir, "watch", "--progress", "plain")
	if err := <-done; err != nil {
		t.Fatalf("velocity run --server: %v\n%s", err, first)
	}
	if late.code != 0 {
		t.Fatalf("velocity watch exit %d\n%s%s", late.code, late.stdout, late.stderr)
	}
	var want []string
	for i := 1; i <= 60; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	for who, out := range map[string]string{"the starting terminal": first.String(), "the late watcher": late.stdout} {
		if got := linesOf(out, "build/count"); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s saw %d lines %q…; want line 1..60 in order\n%s", who, len(got), got, out)
		}
		if !regexp.MustCompile(`✓ run 1 of watched succeeded`).MatchString(out) {
			t.Errorf("%s did not see the run succeed:\n%s", who, out)
		}
	}

	// Ctrl-C stops watching; the run it watched goes on to its end.
	slow := e.command(dir, "run", "--server", "--no-cache", "--progress", "plain")
	slowOut := &output{}
	slow.Stdout, slow.Stderr = slowOut, slowOut
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(slowOut.String(), "line 5\n") {
		time.Sleep(10 * time.Millisecond)
	}
	watcher := e.command(dir, "watch", "2", "--progress", "plain")
	watched := &output{}
	watcher.Stdout, watcher.Stderr = watched, watched
	if err := watcher.Start(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(watched.String(), "line 1\n") {
		time.Sleep(10 * time.Millisecond)
	}
	watcher.Process.Signal(syscall.SIGINT)
	if err := watcher.Wait(); err != nil {
		t.Errorf("velocity watch after Ctrl-C: %v\n%s", err, watched)
	}
	if !strings.Contains(watched.String(), "stopped watching run 2; it goes on") {
		t.Errorf("velocity watch after Ctrl-C said:\n%s", watched)
	}
	if err := slow.Wait(); err != nil {
		t.Errorf("the watched run did not go on to succeed: %v\n%s", err, slowOut)
	}
	if got := linesOf(slowOut.String(), "build/count"); len(got) != 60 {
		t.Errorf("the watched run printed %d lines after the watcher left; want 60", len(got))
	}
}
