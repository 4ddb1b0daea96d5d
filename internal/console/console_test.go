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

func TestCriticalPathFollowsWhatEachActionWaitedFor(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(stage, name string, start, end int) store.Action {
		return store.Action{Stage: stage, Name: name, Started: t0.Add(time.Duration(start) * time.Second),
			Finished: t0.Add(time.Duration(end) * time.Second)}
	}
	path := CriticalPath([]store.Action{
		at("build", "a", 0, 10),
		at("build", "b", 0, 2),
		at("build", "c", 2, 4),
		at("ship", "d", 10, 11),
		{Stage: "ship", Name: "skipped"},
	})
	var names []string
	for _, a := range path {
		names = append(names, a.Name)
	}
	if strings.Join(names, " ") != "a d" {
		t.Errorf("critical path %v, want a d", names)
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
