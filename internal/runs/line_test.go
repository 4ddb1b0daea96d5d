package runs

import (
	"bytes"
	"strings"
	"testing"
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
