package console

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/velocity-ci/velocity/internal/runs"
)

// LineSplitter turns output chunks into lines; see runs.LineSplitter.
type LineSplitter = runs.LineSplitter

// printable makes a log line safe for a terminal: invalid UTF-8 becomes
// U+FFFD, a carriage return keeps only what a terminal would finally show
// (progress bars), colour sequences stay, and every other control
// character or escape sequence (cursor movement, clearing the screen,
// window titles, the alternate screen) is dropped whole, so that a binary
// dump or a hostile tool cannot reprogram the user's terminal.
func printable(line []byte) string {
	if i := bytes.LastIndexByte(line, '\r'); i >= 0 {
		if i == len(line)-1 {
			line = line[:i] // CRLF endings
			if j := bytes.LastIndexByte(line, '\r'); j >= 0 {
				line = line[j+1:]
			}
		} else {
			line = line[i+1:]
		}
	}
	var b strings.Builder
	b.Grow(len(line))
	for len(line) > 0 {
		if line[0] == 0x1b {
			n, colour := escape(line)
			if colour {
				b.Write(line[:n])
			}
			line = line[n:]
			continue
		}
		r, size := utf8.DecodeRune(line)
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			// dropped
		default:
			b.Write(line[:size])
		}
		line = line[size:]
	}
	return b.String()
}

// escape measures the escape sequence at the start of p (which begins
// with ESC) and tells whether it only sets colours (SGR: ESC [ digits ; m).
// An unfinished sequence runs to the end of p.
func escape(p []byte) (n int, colour bool) {
	if len(p) < 2 {
		return len(p), false
	}
	switch p[1] {
	case '[': // CSI: parameters, intermediates, one final byte
		i := 2
		for i < len(p) && p[i] >= 0x30 && p[i] <= 0x3f {
			i++
		}
		params := p[2:i]
		intermediates := i
		for i < len(p) && p[i] >= 0x20 && p[i] <= 0x2f {
			i++
		}
		if i == len(p) || p[i] < 0x40 || p[i] > 0x7e {
			return i, false
		}
		// An SGR has no intermediate bytes: "ESC [ SP m" is another
		// control sequence, not a colour.
		return i + 1, p[i] == 'm' && i == intermediates && len(bytes.Trim(params, "0123456789;:")) == 0
	case ']', 'P', '_', '^', 'X': // strings ended by BEL or ESC \
		for i := 2; i < len(p); i++ {
			if p[i] == 0x07 {
				return i + 1, false
			}
			if p[i] == 0x1b && i+1 < len(p) && p[i+1] == '\\' {
				return i + 2, false
			}
		}
		return len(p), false
	}
	return 2, false
}

// visibleTrim cuts s to at most width visible runes, skipping colour
// sequences, which take no room.
func visibleTrim(s string, width int) string {
	if width <= 0 {
		return ""
	}
	var b strings.Builder
	n := 0
	inEsc := false
	for _, r := range s {
		if inEsc {
			b.WriteRune(r)
			if r >= 0x40 && r <= 0x7e && r != '[' {
				inEsc = false
			}
			continue
		}
		if r == 0x1b {
			inEsc = true
			b.WriteRune(r)
			continue
		}
		if r == '\t' {
			r = ' '
		}
		if n >= width {
			break
		}
		b.WriteRune(r)
		n++
	}
	if strings.ContainsRune(s, 0x1b) {
		b.WriteString("\x1b[0m")
	}
	return b.String()
}

// Printable makes one line of a log safe to show in a terminal.
func Printable(line string) string { return printable([]byte(line)) }
