package sqlite

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"

	"github.com/velocity-ci/velocity/internal/store"
)

// A batch row of workflow_event_batches holds the events first_id to
// last_id of an execution one after the other, each as
//
//	uvarint(len(type)) type  varint(at, ns since 1970, 0 if unset)  uvarint(len(body)) body
//
// after a format byte: batchPlain, or batchS2 when the rest is
// compressed as one S2 block (github.com/klauspost/compress/s2, a Snappy
// extension). IDs are not stored: the row's events are consecutive. The
// types and times are there, as the columns of workflow_events were, so
// that a history can be listed without decoding the bodies.
//
// Compression is what makes the row layout pay: the events of a batch
// repeat each other's keys, types, state names and scopes, and S2
// shrinks a batch of a Map's events about six times, at over 2 GB/s, for
// a fraction of what writing the pages cost SQLite (each page is copied,
// written to the WAL, read back and written again at the checkpoint).
// Deflate's fastest level shrank them a little more at a tenth of the
// speed: compressing became the larger part of an append.
const (
	batchPlain byte = 0
	batchS2    byte = 1
)

// minCompress is the size under which a batch is stored plain: a lone
// event compresses too little to pay for starting a compressor.
const minCompress = 512

// batchRow is one row of workflow_event_batches, encoded.
type batchRow struct {
	first, last int64
	data        []byte
}

// batchEncoder encodes rows; its buffers are reused through a pool.
type batchEncoder struct {
	plain, out []byte
}

// encoders pools batchEncoders; its zero value is ready.
type encoders struct{ pool sync.Pool }

// encode returns the rows of events: a row per run of consecutive IDs.
func (p *encoders) encode(events []store.Event) []batchRow {
	e, _ := p.pool.Get().(*batchEncoder)
	if e == nil {
		e = &batchEncoder{}
	}
	defer p.pool.Put(e)
	var rows []batchRow
	for _, run := range runs(events) {
		e.plain = appendBatch(append(e.plain[:0], batchPlain), run)
		row := batchRow{first: run[0].ID, last: run[len(run)-1].ID}
		if len(e.plain) >= minCompress {
			row.data = e.compress()
		}
		if row.data == nil {
			row.data = bytes.Clone(e.plain)
		}
		rows = append(rows, row)
	}
	if cap(e.plain) > maxKeptBuffer {
		e.plain, e.out = nil, nil
	}
	return rows
}

// compress returns e.plain compressed, or nil if that is not smaller.
func (e *batchEncoder) compress() []byte {
	n := 1 + s2.MaxEncodedLen(len(e.plain)-1)
	if cap(e.out) < n {
		e.out = make([]byte, n)
	}
	e.out = e.out[:n]
	e.out[0] = batchS2
	z := s2.Encode(e.out[1:], e.plain[1:])
	if 1+len(z) >= len(e.plain) {
		return nil
	}
	return bytes.Clone(e.out[:1+len(z)])
}

// decodeRow appends the events first to last held by row data b to out.
func decodeRow(out []store.Event, first, last int64, b []byte) ([]store.Event, error) {
	if len(b) == 0 {
		return out, fmt.Errorf("events %d to %d: empty row: %w", first, last, errBadBatch)
	}
	switch b[0] {
	case batchPlain:
		return decodeBatch(out, first, last, b[1:])
	case batchS2:
		plain, err := s2.Decode(nil, b[1:])
		if err != nil {
			return out, fmt.Errorf("events %d to %d: %w: %w", first, last, errBadBatch, err)
		}
		return decodeBatch(out, first, last, plain)
	}
	return out, fmt.Errorf("events %d to %d: format %d: %w", first, last, b[0], errBadBatch)
}

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
