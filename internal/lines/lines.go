// Package lines splits a stream of output into lines, for those who
// prefix, forward or keep a program's output line by line.
package lines

import "bytes"

// MaxLine bounds how much of a line without newline is held back: a
// program printing megabytes without one must not grow memory unbounded.
const MaxLine = 64 << 10

// Splitter is an io.Writer that calls Emit with every line written to it,
// without its newline or a carriage return before it; what is held back
// without newline is emitted as a line once it reaches MaxLine bytes. Not safe for concurrent use: its user
// serialises Write, Flush and Partial.
type Splitter struct {
	Emit    func(line []byte)
	partial []byte
}

// Write implements io.Writer; it never fails.
func (s *Splitter) Write(p []byte) (int, error) {
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.emit(s.partial[:i])
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) >= MaxLine {
		s.emit(s.partial)
		s.partial = s.partial[:0]
	}
	// Compact so the buffer does not keep every byte ever written.
	s.partial = append([]byte(nil), s.partial...)
	return len(p), nil
}

// Flush emits a last line that had no newline; call it once the output
// has ended.
func (s *Splitter) Flush() {
	if len(s.partial) > 0 {
		s.emit(s.partial)
		s.partial = nil
	}
}

// Partial is the start of a line still waiting for its newline.
func (s *Splitter) Partial() []byte { return bytes.TrimSuffix(s.partial, []byte("\r")) }

func (s *Splitter) emit(line []byte) { s.Emit(bytes.TrimSuffix(line, []byte("\r"))) }
