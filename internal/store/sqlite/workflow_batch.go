package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/velocity-ci/velocity/internal/store"
)

// A batch row of workflow_event_batches holds the events first_id to
// last_id of an execution one after the other, each as
//
//	uvarint(len(type)) type  varint(at, ns since 1970, 0 if unset)  uvarint(len(body)) body
//
// IDs are not stored: the row's events are consecutive. The types and
// times are there, as the columns of workflow_events were, so that a
// history can be listed without decoding the bodies.

// appendBatch encodes events (consecutive IDs) onto b.
func appendBatch(b []byte, events []store.Event) []byte {
	for _, e := range events {
		b = binary.AppendUvarint(b, uint64(len(e.Type)))
		b = append(b, e.Type...)
		b = binary.AppendVarint(b, nanos(e.At))
		b = binary.AppendUvarint(b, uint64(len(e.Body)))
		b = append(b, e.Body...)
	}
	return b
}

var errBadBatch = errors.New("malformed batch of events")

// decodeBatch appends the events first to last encoded in b to out. The
// bodies share b's memory, which the caller gives up.
func decodeBatch(out []store.Event, first, last int64, b []byte) ([]store.Event, error) {
	for id := first; id <= last; id++ {
		e := store.Event{ID: id}
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return out, fmt.Errorf("event %d: %w", id, errBadBatch)
		}
		e.Type, b = string(b[k:k+int(n)]), b[k+int(n):]
		at, k := binary.Varint(b)
		if k <= 0 {
			return out, fmt.Errorf("event %d: %w", id, errBadBatch)
		}
		e.At, b = fromNanos(at), b[k:]
		n, k = binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return out, fmt.Errorf("event %d: %w", id, errBadBatch)
		}
		end := k + int(n)
		e.Body, b = b[k:end:end], b[end:]
		out = append(out, e)
	}
	if len(b) != 0 {
		return out, fmt.Errorf("events %d to %d: %d bytes left over: %w", first, last, len(b), errBadBatch)
	}
	return out, nil
}

// runs splits events into runs of consecutive IDs, each a batch row.
func runs(events []store.Event) [][]store.Event {
	var out [][]store.Event
	start := 0
	for i := 1; i <= len(events); i++ {
		if i == len(events) || events[i].ID != events[i-1].ID+1 {
			out = append(out, events[start:i])
			start = i
		}
	}
	return out
}

// mergeHistory merges two histories sorted by ID into one.
func mergeHistory(a, b []store.Event) []store.Event {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := make([]store.Event, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].ID < b[0].ID {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}
