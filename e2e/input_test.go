package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestInvalidDefinitionExits2WithEveryErrorLocated(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `stages:
  - name: build
    actions:
      - name: test
        run: go test ./...
      - name: package
        needs: [tset]
        timeout: 5 minutes
        rn: go build
`})
	for _, cmd := range []string{"validate", "run"} {
		r := e.run(dir, cmd)
		if r.code != 2 {
			t.Fatalf("%s: exit %d, want 2\n%s%s", cmd, r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{
			`velocity.yml:7:17: stages[0].actions[1].needs: "tset" is not an action in stage "build" (did you mean "test"?)`,
			`velocity.yml:8:18: stages[0].actions[1].timeout:`,
			`velocity.yml:9:9: stages[0].actions[1]: unknown key "rn" (did you mean "run"?)`,
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, r.stderr)
			}
		}
	}
	runs := e.run(dir, "runs", "--all")
	if !strings.Contains(runs.stdout, "no runs") {
		t.Errorf("an invalid definition must not start a run:\n%s", runs.stdout)
	}
}

func TestInvalidYAMLAndMissingFile(t *testing.T) {
	e := newEnv(t)
	bad := project(t, map[string]string{"velocity.yml": "stages:\n  - name: [unclosed\n"})
	r := e.run(bad, "run")
	if r.code != 2 || !regexp.MustCompile(`velocity\.yml:\d+:\d+: `).MatchString(r.stderr) {
		t.Errorf("invalid YAML: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	empty := t.TempDir()
	r = e.run(empty, "run")
	if r.code != 2 || !strings.Contains(r.stderr, "velocity init") {
		t.Errorf("missing file: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = e.run(empty, "run", "--no-such-flag")
	if r.code != 2 {
		t.Errorf("unknown flag: exit %d", r.code)
	}
	r = e.run(empty, "show", "999")
	if r.code != 2 || !strings.Contains(r.stderr, "run 999 not found") {
		t.Errorf("unknown run: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestCommandNotFoundIsShownAsExit127(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - name: typo
        run: gcc-but-misspelled --version
`})
	r := e.run(dir, "run")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	if !strings.Contains(r.stdout, "command not found (exit 127)") {
		t.Errorf("output:\n%s", r.stdout)
	}
	show := e.run(dir, "show")
	if !strings.Contains(show.stdout, "command not found (exit 127)") {
		t.Errorf("show:\n%s", show.stdout)
	}
}

func TestBinaryGarbageAndLongLinesAreKeptExactly(t *testing.T) {
	e := newEnv(t)
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i * 7 % 256)
	}
	long := strings.Repeat("0123456789", 1000) // 10,000 characters
	dir := project(t, map[string]string{
		"garbage.bin": string(garbage),
		"long.txt":    long + "\n",
		"velocity.yml": `
stages:
  - name: build
    actions:
      - name: noisy
        run: |
          cat long.txt
          cat garbage.bin
          echo
          printf '\033]0;title\007\033[2Jstill here\n'
`,
	})
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "[build/noisy] "+long+"\n") {
		t.Errorf("the 10,000-character line is not shown whole")
	}
	for i := 0; i < len(r.stdout); i++ {
		if c := r.stdout[i]; c < 0x20 && c != '\n' && c != '\t' && c != 0x1b {
			t.Fatalf("control byte %#x reached the terminal output", c)
		}
	}
	// The stored log is byte for byte what the action wrote.
	logs := e.run(dir, "logs", "last", "noisy")
	want := long + "\n" + string(garbage) + "\n" + "\033]0;title\007\033[2Jstill here\n"
	if logs.stdout != want {
		t.Errorf("stored log differs from the output (%d bytes, want %d)", len(logs.stdout), len(want))
	}
	files, _ := filepath.Glob(filepath.Join(e.home, "logs", "*", "build", "noisy.1.log"))
	if len(files) != 1 {
		t.Fatalf("log file not found under %s", e.home)
	}
	if b, _ := os.ReadFile(files[0]); !bytes.Equal(b, []byte(want)) {
		t.Errorf("log file content differs")
	}
}

func TestHundredMegabytesOfOutputKeepMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("prints 100 MB")
	}
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - name: flood
        run: head -c 100000000 < <(yes 'a line of output that repeats, as a chatty build does')
`})
	cmd := e.command(dir, "run")
	var n countWriter
	cmd.Stdout = &n
	// The run holds a 64 KiB line buffer and a 32 KiB read buffer, never
	// the output itself.
	rss, err := peakRSS(cmd)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if n.n < 100000000 {
		t.Errorf("only %d bytes shown", n.n)
	}
	t.Logf("peak memory of velocity run printing 100 MB: %d MiB", rss>>20)
	if rss > 80<<20 {
		t.Errorf("peak memory %d MiB: output is being held in memory", rss>>20)
	}
	logs := e.command(dir, "logs", "last", "flood")
	var m countWriter
	logs.Stdout = &m
	rss, err = peakRSS(logs)
	if err != nil || m.n != 100000000 {
		t.Errorf("velocity logs printed %d bytes (%v), want 100000000", m.n, err)
	}
	if rss > 80<<20 {
		t.Errorf("velocity logs peak memory %d MiB", rss>>20)
	}
}

// peakRSS runs cmd and returns the peak resident memory of its process,
// in bytes, read from /proc while it runs. The rusage of a child cannot
// say it: Go starts children with vfork, and the kernel counts the
// parent's (this test binary's) peak into the child's at exec, so a busy
// test process would be blamed on velocity.
func peakRSS(cmd *exec.Cmd) (int64, error) {
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var peak int64
	for {
		// VmHWM is the peak of the process's own memory since its exec.
		if b, err := os.ReadFile(status); err == nil {
			for line := range strings.Lines(string(b)) {
				if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					var kb int64
					fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
					peak = max(peak, kb<<10)
				}
			}
		}
		select {
		case err := <-done:
			return peak, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
