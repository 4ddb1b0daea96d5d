package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecretsMaskedInOutput: a service that prints its secret at start
// (split over two writes) and on every request leaves only *** in its log
// file and in LastLines, which deploy errors quote.
func TestSecretsMaskedInOutput(t *testing.T) {
	l := newLocal(t, Config{})
	const value = "s3cr3tTOKENvalue"
	s := serverSpec(t, `exec "$SERVER"`, "SECRET="+value)
	s.Secrets = [][]byte{[]byte(value)}
	inst := start(t, l, s)
	waitServing(t, inst)
	for range 3 {
		if _, err := get(inst.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "the request lines", func() bool { return hasLine(inst.LastLines(20), "request / token=***") })
	stop(t, inst)

	lines := inst.LastLines(50)
	if !hasLine(lines, "starting with token=*** ok") {
		t.Errorf("no masked start line in %q", lines)
	}
	if hasLine(lines, value) || hasLine(lines, value[:len(value)/2]) {
		t.Errorf("secret in LastLines: %q", lines)
	}
	b, err := os.ReadFile(filepath.Join(s.LogDir, inst.ID()+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), value[:len(value)/2]) || strings.Contains(string(b), value[len(value)/2:]) {
		t.Errorf("secret in the log file:\n%s", b)
	}
	if got := strings.Count(string(b), "token=***"); got != 5 {
		t.Errorf("%d masked lines in the log file, want 5 (start and 4 requests):\n%s", got, b)
	}
}

// TestNoSecretsNoMasking: without Secrets the output is stored as it is.
func TestNoSecretsNoMasking(t *testing.T) {
	l := newLocal(t, Config{})
	const value = "s3cr3tTOKENvalue"
	inst := start(t, l, serverSpec(t, `exec "$SERVER"`, "SECRET="+value))
	waitServing(t, inst)
	// The output may still be in the pipe when the server answers.
	waitFor(t, 5*time.Second, "the clear start line", func() bool { return hasLine(inst.LastLines(20), "starting with token="+value+" ok") })
	stop(t, inst)
}
