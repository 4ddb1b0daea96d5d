package lines

import (
	"strings"
	"testing"
)

func TestSplitterEmitsWholeLines(t *testing.T) {
	var got []string
	s := &Splitter{Emit: func(l []byte) { got = append(got, string(l)) }}
	for _, w := range []string{"one\r\ntw", "o\n", "", "thr", "ee"} {
		s.Write([]byte(w))
	}
	if strings.Join(got, "|") != "one|two" || string(s.Partial()) != "three" {
		t.Fatalf("lines %q, partial %q", got, s.Partial())
	}
	s.Flush()
	if strings.Join(got, "|") != "one|two|three" || len(s.Partial()) != 0 {
		t.Fatalf("after Flush: lines %q, partial %q", got, s.Partial())
	}
	// A line without end is cut at MaxLine.
	got = nil
	s.Write([]byte(strings.Repeat("x", MaxLine+10)))
	if len(got) != 1 || len(got[0]) != MaxLine+10 || len(s.Partial()) != 0 {
		t.Fatalf("a long line: %d parts, partial %d bytes", len(got), len(s.Partial()))
	}
}
