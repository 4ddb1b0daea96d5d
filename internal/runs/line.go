package runs

import "bytes"

// maxLine bounds a buffered partial line: longer lines are shown in pieces
// so that a program printing without newlines cannot grow memory.
const maxLine = 64 * 1024

// LineSplitter turns output chunks into lines, keeping at most maxLine
// bytes of an unfinished line.
type LineSplitter struct {
	partial []byte
}

// Feed calls emit for each complete line in p (without the newline).
func (s *LineSplitter) Feed(p []byte, emit func(line []byte)) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLine - len(s.partial)
			if len(p) < room {
				s.partial = append(s.partial, p...)
				return
			}
			s.partial = append(s.partial, p[:room]...)
			p = p[room:]
			emit(s.partial)
			s.partial = s.partial[:0]
			continue
		}
		if len(s.partial) > 0 {
			s.partial = append(s.partial, p[:i]...)
			emit(s.partial)
			s.partial = s.partial[:0]
		} else {
			emit(p[:i])
		}
		p = p[i+1:]
	}
}

// Flush emits what is left of an unterminated last line.
func (s *LineSplitter) Flush(emit func(line []byte)) {
	if len(s.partial) > 0 {
		emit(s.partial)
		s.partial = s.partial[:0]
	}
}
