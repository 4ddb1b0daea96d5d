package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// Rows decode to the events they were encoded from, whether compressed
// (a Map's repetitive events), left plain (a lone event, or bodies that
// do not shrink), split where IDs are not consecutive; a damaged row is
// an error, not a wrong history.
func TestBatchRowsRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 4000)
	for i := range noise {
		noise[i] = byte(rnd.UintN(256))
	}
	var events []store.Event
	for i := range 300 {
		events = append(events, store.Event{ID: int64(i + 1), Type: "PassStateEntered", At: time.Unix(0, int64(i)*1e6+7),
			Body: fmt.Appendf(nil, `{"id":%d,"details":{"name":"Step","input":"%d"}}`, i+1, i)})
	}
	events[0].At = time.Time{}
	cases := map[string]struct {
		events  []store.Event
		rows    int
		formats []byte
	}{
		"repetitive": {events, 1, []byte{batchS2}},
		"lone":       {events[5:6], 1, []byte{batchPlain}},
		"noise":      {[]store.Event{{ID: 9, Type: "X", Body: noise}}, 1, []byte{batchPlain}},
		"gaps":       {append(append([]store.Event{}, events[:100]...), events[150:151]...), 2, []byte{batchS2, batchPlain}},
	}
	var enc encoders
	for name, c := range cases {
		rows := enc.encode(c.events)
		if len(rows) != c.rows {
			t.Fatalf("%s: %d rows, want %d", name, len(rows), c.rows)
		}
		var got []store.Event
		for i, r := range rows {
			if r.data[0] != c.formats[i] {
				t.Errorf("%s: row %d in format %d, want %d", name, i, r.data[0], c.formats[i])
			}
			var err error
			if got, err = decodeRow(got, r.first, r.last, r.data); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if len(got) != len(c.events) {
			t.Fatalf("%s: %d events, want %d", name, len(got), len(c.events))
		}
		for i, e := range got {
			w := c.events[i]
			if e.ID != w.ID || e.Type != w.Type || !e.At.Equal(w.At) || !bytes.Equal(e.Body, w.Body) {
				t.Fatalf("%s: event %d: %+v, want %+v", name, i, e, w)
			}
		}
	}
	row := enc.encode(events)[0]
	for name, data := range map[string][]byte{
		"truncated":    row.data[:len(row.data)/2],
		"unknown":      append([]byte{9}, row.data[1:]...),
		"empty":        nil,
		"one too many": enc.encode(events[:2])[0].data,
	} {
		last := int64(300)
		if name == "one too many" {
			last = 3
		}
		if _, err := decodeRow(nil, 1, last, data); !errors.Is(err, errBadBatch) {
			t.Errorf("%s row: %v, want errBadBatch", name, err)
		}
	}
}
