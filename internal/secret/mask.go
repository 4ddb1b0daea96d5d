package secret

import (
	"bytes"
	"io"
	"sync"
)

const (
	// mask replaces each occurrence of a secret.
	mask = "***"
	// minLine is the shortest line of a multi-line secret that is masked
	// on its own. Shorter lines ("}", "END", blank ones) turn up in all
	// kinds of output, and masking them would wreck the log while hiding
	// almost nothing.
	minLine = 4
	// outChunk bounds what a Masker buffers before writing, so a huge
	// Write is passed on in pieces instead of copied whole.
	outChunk = 32 << 10
)

// Masker is an io.Writer that passes a stream on with every occurrence of
// the secret values replaced by ***.
//
// An occurrence may be split over any number of writes. To catch it, the
// Masker holds back the end of a write when it could be the beginning of a
// secret — never more than the longest value less one byte, and only while
// it could — and Flush passes on what is held back when the stream ends.
//
// When occurrences overlap (two values sharing bytes, such as one being a
// prefix of the other, or one value overlapping itself, as "aa" in "aaa")
// the whole stretch they cover becomes a single ***, so no byte of any
// occurrence gets through. Occurrences that merely touch are masked one by
// one: "abcabc" with the value "abc" gives "******", as bytes.ReplaceAll
// would.
//
// Tools often print a multi-line secret (a private key, a kubeconfig) line
// by line, or re-indented, so each line of a value that contains newlines
// is masked on its own too, without its surrounding white space, when
// that leaves at least 4 bytes.
//
// A Masker is safe for concurrent use; concurrent writes are masked as one
// stream in the order they take the lock.
type Masker struct {
	mu sync.Mutex
	w  io.Writer
	m  *matcher // nil when there is nothing to mask

	state   int32  // the matcher's state after the last byte taken in
	pos     int64  // how many bytes of the stream have been taken in
	done    int64  // the stream before this offset has been decided
	masking bool   // the last decided byte was masked
	pend    []byte // the stream from done to pos, held back
	spans   []span // stretches to mask not yet wholly decided, in order
	head    int    // spans[:head] are decided
	out     []byte // decided output not yet written
	err     error  // the first write error; the stream is broken after it
}

// span is a stretch [start, end) of the stream to mask.
type span struct{ start, end int64 }

// NewMasker returns a Masker that writes to w. Empty values are ignored.
// The values are not retained.
func NewMasker(w io.Writer, values [][]byte) *Masker {
	m := &Masker{w: w}
	if p := maskPatterns(values); len(p) > 0 {
		m.m = newMatcher(p)
	}
	return m
}

// maskPatterns lists what a Masker looks for: the values, and the lines of
// multi-line values.
func maskPatterns(values [][]byte) [][]byte {
	var patterns [][]byte
	for _, v := range values {
		if len(v) == 0 {
			continue
		}
		patterns = append(patterns, v)
		if bytes.IndexByte(v, '\n') < 0 {
			continue
		}
		for line := range bytes.Lines(v) {
			if line = bytes.TrimSpace(line); len(line) >= minLine {
				patterns = append(patterns, line)
			}
		}
	}
	return patterns
}

// Write masks p and passes on all of it that cannot be part of a secret
// continuing in a later write. It returns len(p) unless the underlying
// writer failed; after a failure every call returns that error.
func (m *Masker) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	if m.m == nil {
		if err := m.writeThrough(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	base := m.pos // stream offset of p[0]
	for i := 0; i < len(p); {
		if len(m.out) >= outChunk {
			if err := m.emit(); err != nil {
				return 0, err
			}
		}
		if m.m.nodes[m.state].hold == 0 {
			// Nothing is held back and no secret has begun, so the run
			// of bytes that cannot begin one is output as it is. This is
			// where ordinary output spends its time.
			root, j := &m.m.root, i
			for j < len(p) && root[p[j]] == 0 {
				j++
			}
			if j > i {
				if err := m.literalRun(p[i:j]); err != nil {
					return 0, err
				}
				m.state = 0
				m.pos += int64(j - i)
				m.done = m.pos
				m.masking = false
				i = j
				continue
			}
		}
		m.state = m.m.next(m.state, p[i])
		i++
		m.pos++
		n := &m.m.nodes[m.state]
		if n.out > 0 {
			m.cover(m.pos - int64(n.out))
		}
		// The last hold bytes may begin a secret; the rest is decided.
		m.decide(m.pos-int64(n.hold), p, base)
	}
	m.keep(p, base)
	if err := m.emit(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush passes on the bytes held back, as they are or masked. Call it when
// the stream ends. A secret that straddles a Flush (the stream went on
// after it) is masked only from the Flush on.
func (m *Masker) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if m.m == nil {
		return nil
	}
	m.decide(m.pos, nil, m.pos)
	m.pend = m.pend[:0]
	return m.emit()
}

// cover records that the stream from start to pos is to be masked,
// merging it with the stretches it overlaps. It ends after every stretch
// recorded so far, so those are all at the end of the list.
func (m *Masker) cover(start int64) {
	for len(m.spans) > m.head && m.spans[len(m.spans)-1].end > start {
		start = min(start, m.spans[len(m.spans)-1].start)
		m.spans = m.spans[:len(m.spans)-1]
	}
	m.spans = append(m.spans, span{start, m.pos})
}

// decide outputs the stream from done up to b, masked where it must be. p
// is the write in progress, starting at stream offset base; what comes
// before base is in pend.
func (m *Masker) decide(b int64, p []byte, base int64) {
	for m.done < b {
		if m.head == len(m.spans) || m.spans[m.head].start >= b {
			m.literal(m.done, b, p, base)
			m.done = b
			m.masking = false
			break
		}
		sp := m.spans[m.head]
		if m.done < sp.start {
			m.literal(m.done, sp.start, p, base)
			m.done = sp.start
			m.masking = false
		}
		// One *** per stretch: at its first byte, or, when a Flush let
		// the stretch's beginning through, at its first byte after that.
		if m.done == sp.start || !m.masking {
			m.out = append(m.out, mask...)
			m.masking = true
		}
		if sp.end > b {
			m.done = b
			break
		}
		m.done = sp.end
		m.head++
	}
	if m.head == len(m.spans) {
		m.spans, m.head = m.spans[:0], 0
	}
}

// literal outputs the stream from offset from to offset to unmasked.
func (m *Masker) literal(from, to int64, p []byte, base int64) {
	if from < base {
		first := base - int64(len(m.pend))
		end := min(to, base)
		m.out = append(m.out, m.pend[from-first:end-first]...)
		from = end
	}
	if from < to {
		m.out = append(m.out, p[from-base:to-base]...)
	}
}

// keep moves what is still undecided at the end of a write into pend.
func (m *Masker) keep(p []byte, base int64) {
	if m.done >= base {
		m.pend = append(m.pend[:0], p[m.done-base:]...)
		return
	}
	first := base - int64(len(m.pend))
	n := copy(m.pend, m.pend[m.done-first:])
	m.pend = append(m.pend[:n], p...)
}

// literalRun outputs b, which follows what is in out. A long run goes
// straight to w rather than through out.
func (m *Masker) literalRun(b []byte) error {
	if len(m.out)+len(b) <= outChunk {
		m.out = append(m.out, b...)
		return nil
	}
	if err := m.emit(); err != nil {
		return err
	}
	return m.writeThrough(b)
}

// emit writes out to w.
func (m *Masker) emit() error {
	if len(m.out) == 0 {
		return nil
	}
	err := m.writeThrough(m.out)
	m.out = m.out[:0]
	return err
}

func (m *Masker) writeThrough(b []byte) error {
	n, err := m.w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		m.err = err
	}
	return err
}
