package console

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                       "plain",
		"bad \xff\xfe utf8":           "bad \ufffd\ufffd utf8",
		"progress 10%\rprogress 100%": "progress 100%",
		"crlf line\r":                 "crlf line",
		"\x1b[32mgreen\x1b[0m":        "\x1b[32mgreen\x1b[0m",
		"bell\x07 and nul\x00":        "bell and nul",
		"tab\tkept":                   "tab\tkept",
		"\x1b[1;31mbold red\x1b[m":    "\x1b[1;31mbold red\x1b[m",
		// Anything but a colour could move the cursor, clear the screen
		// or retitle the window: dropped, sequence and all.
		"a\x1b[2Jb\x1b[10;1Hc":       "abc",
		"\x1b]0;owned\x07title":      "title",
		"\x1b]8;;http://x\x1b\\link": "link",
		"esc\x1bcreset":              "escreset",
		"cut \x1b[31":                "cut ",
		"\x1b[?1049h alt screen":     " alt screen",
	} {
		if got := printable([]byte(in)); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVisibleTrimIgnoresColours(t *testing.T) {
	if got := visibleTrim("\x1b[31mabcdef\x1b[0m", 3); got != "\x1b[31mabc\x1b[0m" {
		t.Errorf("visibleTrim = %q", got)
	}
	if got := visibleTrim("abc", 10); got != "abc" {
		t.Errorf("visibleTrim = %q", got)
	}
}

func TestReportShowsTheCriticalPathWithWaitsForACPUApart(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(si int, stage, name string, start, end float64) store.Action {
		return store.Action{StageIndex: si, Stage: stage, Name: name, Kind: store.KindAction, Status: store.Succeeded,
			Started:  t0.Add(time.Duration(start * float64(time.Second))),
			Finished: t0.Add(time.Duration(end * float64(time.Second)))}
	}
	run := store.Run{ID: 4, Project: "hello", Status: store.Succeeded, Created: t0, Finished: t0.Add(2 * time.Second)}
	// -j 1: package does not need vet but waited for vet's slot.
	actions := []store.Action{
		at(0, "build", "vet", 0, 0.5),
		at(0, "build", "package", 0.5, 1.5),
		at(1, "ship", "publish", 1.5, 1.6),
	}
	var out strings.Builder
	Report(&out, run, actions, ReportOptions{})
	want := "✓ run 4 of hello succeeded in 2.0s\n" +
		"  build\n" +
		"    ✓ vet       500ms\n" +
		"    ✓ package    1.0s\n" +
		"  ship\n" +
		"    ✓ publish   100ms\n" +
		"  critical path (1.1s + 500ms waiting for a CPU): build/package 1.0s (waited 500ms for a CPU) → ship/publish 100ms\n"
	if out.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", out.String(), want)
	}
}

// started is the RunStarted event of a run of the given actions of one
// stage "build".
func started(actions ...runs.Action) runs.Event {
	return runs.Event{RunID: 1, Kind: runs.KindRunStarted, RunStarted: &runs.RunStarted{
		Stages: []runs.Stage{{Name: "build", Actions: actions}}}}
}

func TestPlainOutputPrefixesLinesAndSaysHowActionsEnded(t *testing.T) {
	var out bytes.Buffer
	c := New(&out, Options{})
	now := time.Now()
	id := "build/test"
	c.Handle(started(runs.Action{ID: id, Name: "test", Kind: "action", Attempts: 2}))
	c.Handle(runs.Event{Time: now, AttemptStarted: &runs.AttemptStarted{Action: id, Attempt: 1, Of: 2}})
	for _, l := range []string{"compiling", "half a line", "no newline at the end"} {
		c.Handle(runs.Event{Output: &runs.Output{Action: id, Attempt: 1, Text: l}})
	}
	c.Handle(runs.Event{AttemptFinished: &runs.AttemptFinished{Action: id, Attempt: 1, Status: store.Failed, Reason: "exit code 1", Started: now, Finished: now}})
	c.Handle(runs.Event{Time: now, AttemptStarted: &runs.AttemptStarted{Action: id, Attempt: 2, Of: 2}})
	c.Handle(runs.Event{AttemptFinished: &runs.AttemptFinished{Action: id, Attempt: 2, Status: store.Cached, Reason: "result of run 3", Started: now, Finished: now, Final: true}})
	c.Stop()
	want := "==> build/test started\n" +
		"[build/test] compiling\n" +
		"[build/test] half a line\n" +
		"[build/test] no newline at the end\n" +
		"==> build/test attempt 1 failed after 0ms: exit code 1; retrying\n" +
		"==> build/test started (attempt 2 of 2)\n" +
		"==> build/test cached: result of run 3\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestFailuresShowTheEndOfEachFailedActionsLastLog(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var long strings.Builder
	for i := 1; i <= 400; i++ {
		fmt.Fprintf(&long, "test line %d\n", i)
	}
	actions := []store.Action{
		{Stage: "check", Name: "lint", Status: store.Succeeded},
		{Stage: "check", Name: "test", Status: store.Failed, Reason: "exit code 1"},
		{Stage: "check", Name: "flaky", Status: store.Failed, Reason: "exit code 2", Attempts: 2},
		{Stage: "check", Name: "optional", Status: store.Failed, AllowFailure: true, Reason: "exit code 1"},
	}
	attempts := []store.Attempt{
		{Stage: "check", Action: "lint", N: 1, Log: write("lint.1.log", "fine\n")},
		{Stage: "check", Action: "test", N: 1, Log: write("test.1.log", long.String())},
		{Stage: "check", Action: "flaky", N: 2, Log: write("flaky.2.log", "second try\nbroke \x1b[31mred\x1b[0m\x07\n")},
		{Stage: "check", Action: "flaky", N: 1, Log: write("flaky.1.log", "first try\n")},
		{Stage: "check", Action: "optional", N: 1, Log: write("optional.1.log", "allowed to fail\n")},
	}
	var out strings.Builder
	Failures(&out, 7, actions, attempts, FailureOptions{Lines: DefaultTailLines, Velocity: "velocity --data-dir /d"})
	want := "\n✗ check/test failed: exit code 1; the last 20 lines of its log:\n"
	for i := 381; i <= 400; i++ {
		want += fmt.Sprintf("  test line %d\n", i)
	}
	want += "  full log: " + dir + "/test.1.log (or velocity --data-dir /d logs 7 check/test)\n" +
		"\n✗ check/flaky failed: exit code 2 (attempt 2); its log:\n" +
		"  second try\n" +
		"  broke \x1b[31mred\x1b[0m\n" +
		"  full log: " + dir + "/flaky.2.log (or velocity --data-dir /d logs 7 check/flaky)\n"
	if out.String() != want {
		t.Errorf("failures:\n%s\nwant:\n%s", out.String(), want)
	}

	out.Reset()
	Failures(&out, 7, actions[:2], attempts, FailureOptions{Lines: 0})
	if want := "\n✗ check/test failed: exit code 1\n  full log: " + dir + "/test.1.log (or velocity logs 7 check/test)\n"; out.String() != want {
		t.Errorf("with no lines:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestTailOfALogOfHugeLinesIsBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.log")
	huge := strings.Repeat("x", 3*maxTailBytes)
	if err := os.WriteFile(p, []byte("first\n"+huge+"\nshort\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lines, whole, err := tail(p, 20)
	if err != nil {
		t.Fatal(err)
	}
	if whole || len(lines) != 2 || lines[1] != "short" || !strings.HasPrefix(lines[0], "…x") || len(lines[0]) > maxTailBytes+len("…") {
		t.Errorf("tail: whole=%v, %d lines, first %d bytes", whole, len(lines), len(lines[0]))
	}
	// No newline at the end, fewer lines than asked.
	if err := os.WriteFile(p, []byte("one\ntwo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if lines, whole, _ := tail(p, 20); !whole || strings.Join(lines, "|") != "one|two" {
		t.Errorf("tail = %q whole=%v", lines, whole)
	}
}

func TestLogRecordsAreConsoleLines(t *testing.T) {
	id := "build/make"
	filter := slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})
	logTo := func(c *Console) *slog.Logger {
		return slog.New(runs.LogHandler(filter, func(m runs.Message) {
			c.Handle(runs.Event{Kind: runs.KindMessage, Message: &m})
		}))
	}

	var out bytes.Buffer
	c := New(&out, Options{})
	c.Handle(started(runs.Action{ID: id, Name: "make", Kind: "action", Attempts: 1}))
	log := logTo(c)
	c.Handle(runs.Event{Time: time.Now(), AttemptStarted: &runs.AttemptStarted{Action: id, Attempt: 1, Of: 1}})
	log.Warn("cached result unusable; running the action", "action", id, "from_run", 3, "err", errors.New("restore app/alias: digest \"\"\nsecond line\x07"))
	log.Info("not shown: below the level the user chose")
	log.With("service", "web").WithGroup("health").Error("check failed", "status", 503, "body", "not ready")
	c.Stop()
	log.Warn("after the run")
	want := "==> build/make started\n" +
		"[build/make] warning: cached result unusable; running the action (from_run=3): restore app/alias: digest \"\"\n" +
		"  second line\n" +
		"velocity: error: check failed (service=web, health.status=503, health.body=\"not ready\")\n" +
		"velocity: warning: after the run\n"
	if out.String() != want {
		t.Errorf("output:\n%q\nwant:\n%q", out.String(), want)
	}

	// Live: the line goes above the view, which is drawn again below it;
	// after Stop, below the final view, which stays.
	out.Reset()
	c = New(&out, Options{Live: true})
	c.Handle(started(runs.Action{ID: id, Name: "make", Kind: "action", Attempts: 1}))
	log = logTo(c)
	c.Printf("velocity: run 1\n")
	log.Warn("slow disk", "action", id)
	c.Stop()
	log.Warn("late")
	view := "\x1b[2m·\x1b[0m build/make        \x1b[0m\x1b[K\n"
	want = "velocity: run 1\n" + view +
		"\x1b[1A\x1b[J[build/make] warning: slow disk\n" + view +
		"\x1b[1A\x1b[J" + view +
		"velocity: warning: late\n"
	if out.String() != want {
		t.Errorf("live output:\n%q\nwant:\n%q", out.String(), want)
	}
}

// FuzzPrintable checks what reaches the terminal: valid UTF-8, no control
// character but tab, and no escape sequence but a colour.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[31mred\x1b[0m", "a\x1b[2Jb", "\x1b]0;t\x07x", "\xff\r\n", "\x1b[", "\x1b"} {
		f.Add([]byte(s))
	}
	sgr := regexp.MustCompile("^\x1b\\[[0-9;:]*m")
	f.Fuzz(func(t *testing.T, in []byte) {
		out := printable(in)
		if !utf8.ValidString(out) {
			t.Fatalf("printable(%q) = %q: invalid UTF-8", in, out)
		}
		for i, r := range out {
			switch {
			case r == 0x1b:
				if !sgr.MatchString(out[i:]) {
					t.Fatalf("printable(%q) = %q: an escape that is not a colour at %d", in, out, i)
				}
			case r != '\t' && (r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0):
				t.Fatalf("printable(%q) = %q: control character %U", in, out, r)
			}
		}
	})
}

// TestLiveViewShowsOnlyTheSelection: a partial run's view has a line per
// action it runs (those its RunStarted event names), not a pending line
// for every action of the pipeline.
func TestLiveViewShowsOnlyTheSelection(t *testing.T) {
	c := New(io.Discard, Options{Live: true})
	c.Handle(started(runs.Action{ID: "build/test", Name: "test", Kind: "action", Attempts: 1}))
	got := strings.Join(c.view(time.Now(), 80, 20), "\n")
	if !strings.Contains(got, "build/test") || strings.Contains(got, "build/lint") {
		t.Errorf("view:\n%s\nwant build/test only", got)
	}
}

// TestDeployedThroughAnotherProcessIsNamed: services deployed through the
// data directory's server are listed where they keep running; those this
// process hosts are announced by the hosting itself.
func TestDeployedThroughAnotherProcessIsNamed(t *testing.T) {
	var out bytes.Buffer
	c := New(&out, Options{})
	c.Stop()
	c.Handle(runs.Event{Deployed: &runs.Deployed{Hosted: true, URLs: []string{"staging/web (release r1): http://a"}}})
	c.Handle(runs.Event{Deployed: &runs.Deployed{Server: "/d/velocity.sock", URLs: []string{"staging/web (release r2): http://b"}}})
	want := "velocity: deployed through velocity serve (/d/velocity.sock); the services keep running there:\n" +
		"  staging/web (release r2): http://b\n"
	if out.String() != want {
		t.Errorf("output:\n%q\nwant:\n%q", out.String(), want)
	}
}
