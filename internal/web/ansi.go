package web

import (
	"strconv"
	"strings"
)

// span is a piece of a log line with the classes of its ANSI colours
// and styles ("ansi-fg-1 ansi-bold"); Class is "" for plain text.
// Templates escape Text, and live.js sets it as text: a log line never
// becomes markup.
type span struct {
	Class string `json:"c,omitempty"`
	Text  string `json:"t"`
}

// sgr is the graphic state an SGR sequence changes. Colours are indexes
// of the 16-colour palette (the stylesheet gives them), -1 for the
// default; 256-colour indexes above 15 and 24-bit colours fall back to
// the default, as stylesheet classes cannot name them all.
type sgr struct {
	fg, bg                                int
	bold, dim, italic, underline, inverse bool
}

var plain = sgr{fg: -1, bg: -1}

// class is the classes of state g.
func (g sgr) class() string {
	var c []string
	if g.fg >= 0 {
		c = append(c, "ansi-fg-"+strconv.Itoa(g.fg))
	}
	if g.bg >= 0 {
		c = append(c, "ansi-bg-"+strconv.Itoa(g.bg))
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{g.bold, "ansi-bold"}, {g.dim, "ansi-dim"}, {g.italic, "ansi-italic"}, {g.underline, "ansi-underline"}, {g.inverse, "ansi-inverse"}} {
		if f.on {
			c = append(c, f.name)
		}
	}
	return strings.Join(c, " ")
}

// ansiSpans turns a line with ANSI escape sequences into spans. SGR
// sequences (colours, bold…) become classes; other escape sequences
// (cursor moves, titles) and control characters but tab are dropped,
// since a page cannot act on them.
func ansiSpans(line string) []span {
	var out []span
	var text strings.Builder
	g := plain
	flush := func() {
		if text.Len() > 0 {
			out = append(out, span{Class: g.class(), Text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == 0x1b:
			params, final, n := escape(line[i:])
			i += n
			if final == 'm' {
				flush()
				g = g.apply(params)
			}
		case c < 0x20 && c != '\t' || c == 0x7f:
			i++
		default:
			text.WriteByte(c)
			i++
		}
	}
	flush()
	return out
}

// escape reads the escape sequence s starts with: for a CSI sequence
// (ESC [ params final) its parameters and final byte, for another (OSC,
// two-byte) a final of 0; n is its length.
func escape(s string) (params string, final byte, n int) {
	if len(s) < 2 {
		return "", 0, len(s)
	}
	switch s[1] {
	case '[':
		for j := 2; j < len(s); j++ {
			if s[j] >= 0x40 && s[j] <= 0x7e {
				return s[2:j], s[j], j + 1
			}
		}
		return "", 0, len(s)
	case ']':
		// An operating system command ends with BEL or ESC \.
		if j := strings.IndexAny(s[2:], "\a\x1b"); j >= 0 {
			end := 2 + j + 1
			if s[2+j] == 0x1b && end < len(s) {
				end++
			}
			return "", 0, end
		}
		return "", 0, len(s)
	}
	return "", 0, 2
}

// apply is g after the SGR parameters params ("1;31", "" is a reset).
func (g sgr) apply(params string) sgr {
	codes := strings.Split(params, ";")
	for i := 0; i < len(codes); i++ {
		n, err := strconv.Atoi(codes[i])
		if codes[i] == "" {
			n, err = 0, nil
		}
		if err != nil {
			continue
		}
		switch {
		case n == 0:
			g = plain
		case n == 1:
			g.bold = true
		case n == 2:
			g.dim = true
		case n == 3:
			g.italic = true
		case n == 4:
			g.underline = true
		case n == 7:
			g.inverse = true
		case n == 22:
			g.bold, g.dim = false, false
		case n == 23:
			g.italic = false
		case n == 24:
			g.underline = false
		case n == 27:
			g.inverse = false
		case n >= 30 && n <= 37:
			g.fg = n - 30
		case n >= 90 && n <= 97:
			g.fg = n - 90 + 8
		case n == 39:
			g.fg = -1
		case n >= 40 && n <= 47:
			g.bg = n - 40
		case n >= 100 && n <= 107:
			g.bg = n - 100 + 8
		case n == 49:
			g.bg = -1
		case n == 38 || n == 48:
			var colour int
			colour, i = extended(codes, i)
			if n == 38 {
				g.fg = colour
			} else {
				g.bg = colour
			}
		}
	}
	return g
}

// extended reads the colour of "38;5;N" or "38;2;R;G;B" at codes[i]
// and returns it (-1 beyond the 16-colour palette) with the index of its
// last code.
func extended(codes []string, i int) (int, int) {
	if i+1 >= len(codes) {
		return -1, i
	}
	switch codes[i+1] {
	case "5":
		if i+2 < len(codes) {
			if n, err := strconv.Atoi(codes[i+2]); err == nil && n >= 0 && n < 16 {
				return n, i + 2
			}
		}
		return -1, i + 2
	case "2":
		return -1, i + 4
	}
	return -1, i + 1
}
