package console

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

func TestLineSplitterAcrossChunksAndLongLines(t *testing.T) {
	var s LineSplitter
	var got []string
	emit := func(l []byte) { got = append(got, string(l)) }
	s.Feed([]byte("one\ntw"), emit)
	s.Feed([]byte("o\nthr"), emit)
	s.Flush(emit)
	if strings.Join(got, "|") != "one|two|thr" {
		t.Errorf("lines %q", got)
	}
	got = nil
	s.Feed(bytes.Repeat([]byte("x"), maxLine*2+10), emit)
	s.Flush(emit)
	if len(got) != 3 || len(got[0]) != maxLine || len(got[2]) != 10 {
		t.Errorf("a line without newlines must come out in bounded pieces: %d pieces", len(got))
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                       "plain",
		"bad \xff\xfe utf8":           "bad \ufffd\ufffd utf8",
		"progress 10%\rprogress 100%": "progress 100%",
		"crlf line\r":                 "crlf line",
		"\x1b[32mgreen\x1b[0m":        "\x1b[32mgreen\x1b[0m",
		"bell\x07 and nul\x00":        "bell and nul",
		"tab\tkept":                   "tab\tkept",
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

func TestPlainOutputPrefixesLinesAndSaysHowActionsEnded(t *testing.T) {
	n := &plan.Node{Stage: "build", Name: "test", Attempts: 2}
	p := &plan.Plan{Stages: []*plan.Stage{{Name: "build", Actions: &plan.Graph{Nodes: []*plan.Node{n}}, OnFailure: &plan.Graph{}, Finally: &plan.Graph{}}}}
	var out bytes.Buffer
	c := New(&out, p, Options{})
	now := time.Now()
	c.AttemptStarted(n, 1, now)
	c.Output(n, []byte("compiling\nhalf a li"))
	c.Output(n, []byte("ne\nno newline at the end"))
	c.AttemptFinished(n, store.Attempt{N: 1, Status: store.Failed, Reason: "exit code 1", Started: now, Finished: now}, false)
	c.AttemptStarted(n, 2, now)
	c.AttemptFinished(n, store.Attempt{N: 2, Status: store.Cached, Reason: "result of run 3", Started: now, Finished: now}, true)
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
