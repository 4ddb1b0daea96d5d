package runtime

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInstanceLogRotation(t *testing.T) {
	dir := t.TempDir()
	l, err := openInstanceLog(dir, "web-1", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l.maxSize = 100
	for k := range 5 {
		fmt.Fprintf(l, "line %d %s\n", k, strings.Repeat("x", 30))
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	cur := readFile(t, filepath.Join(dir, "web-1.log"))
	old := readFile(t, filepath.Join(dir, "web-1.log.1"))
	// 38-byte lines, two to a file: only lines 2 to 4 are kept.
	if len(cur) > 100 || len(old) > 100 || !strings.HasPrefix(cur, "line 4") || !strings.HasPrefix(old, "line 2") {
		t.Errorf("after rotation: old %q, current %q", old, cur)
	}
	if !strings.HasSuffix(cur, "line 4 "+strings.Repeat("x", 30)+"\n") {
		t.Errorf("current %q", cur)
	}
}

func TestInstanceLogAppends(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web-1.log")
	if err := os.WriteFile(path, []byte("earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := openInstanceLog(dir, "web-1", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// A note after output without a newline goes on a line of its own.
	fmt.Fprint(l, "half a line")
	l.note("instance web-1 exited with code 1; restarting in 200ms")
	l.endOfStream()
	l.close()
	want := "earlier\nhalf a line\nvelocity: instance web-1 exited with code 1; restarting in 200ms\n"
	if got := readFile(t, path); got != want {
		t.Errorf("log %q, want %q", got, want)
	}
	if got := l.lastLines(10); len(got) != 2 || got[0] != "half a line" || !strings.HasPrefix(got[1], "velocity: ") {
		t.Errorf("last lines %q", got)
	}
}

func TestInstanceLogRing(t *testing.T) {
	l, err := openInstanceLog("", "x", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// Lines arrive split across writes, with CRLF, and far too long.
	for k := range 250 {
		fmt.Fprintf(l, "li")
		fmt.Fprintf(l, "ne %d\r\n", k)
	}
	fmt.Fprint(l, strings.Repeat("y", 3*maxLineLen))
	fmt.Fprint(l, "\ntail")
	l.endOfStream()
	got := l.lastLines(1000)
	if len(got) != ringLines {
		t.Fatalf("%d lines", len(got))
	}
	if got[0] != "line 52" || got[197] != "line 249" || got[199] != "tail" {
		t.Errorf("first %q, 197th %q, last %q", got[0], got[197], got[199])
	}
	if long := got[198]; len(long) > maxLineLen+20 || !strings.HasSuffix(long, "[line cut]") {
		t.Errorf("long line kept as %d bytes ending %q", len(long), long[len(long)-20:])
	}
	if got := l.lastLines(2); len(got) != 2 || got[1] != "tail" {
		t.Errorf("lastLines(2) = %q", got)
	}
	if l.lastLines(0) != nil {
		t.Error("lastLines(0) not empty")
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{policy: RestartPolicy{}.withDefaults(), cur: DefaultBackoff}
	var got []time.Duration
	for range 8 {
		got = append(got, b.next(time.Second))
	}
	want := []time.Duration{200, 400, 800, 1600, 3200, 6400, 10000, 10000}
	for k := range want {
		if got[k] != want[k]*time.Millisecond {
			t.Fatalf("delays %v", got)
		}
	}
	// A process that stayed up 30s was healthy: start over.
	if d := b.next(30 * time.Second); d != 200*time.Millisecond {
		t.Errorf("after a long run: %s", d)
	}
	if d := b.next(0); d != 400*time.Millisecond {
		t.Errorf("then %s", d)
	}
}

func TestWithPortAndIDs(t *testing.T) {
	env := withPort([]string{"A=1", "PORT=9", "B=2"}, 8080)
	if strings.Join(env, " ") != "A=1 B=2 PORT=8080" {
		t.Errorf("env %q", env)
	}
	id, err := newID(Spec{Service: "my web/app", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "my-web-app-prod-") || len(id) != len("my-web-app-prod-")+8 {
		t.Errorf("id %q", id)
	}
	other, _ := newID(Spec{Service: "my web/app", Environment: "prod"})
	if other == id {
		t.Error("ids repeat")
	}
}

// Instance logs live in the data directory: the owner's alone, rotated
// files included.
func TestInstanceLogIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	l, err := openInstanceLog(dir, "web-1", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l.maxSize = 50
	for k := range 3 {
		fmt.Fprintf(l, "line %d %s\n", k, strings.Repeat("x", 30))
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{
		dir: 0o700, filepath.Join(dir, "web-1.log"): 0o600, filepath.Join(dir, "web-1.log.1"): 0o600,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Error(err)
		} else if perm := fi.Mode().Perm(); perm != want {
			t.Errorf("%s is %v, want %v", p, perm, want)
		}
	}
}
