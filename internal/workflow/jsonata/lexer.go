package jsonata

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokenKind int

const (
	tokEnd tokenKind = iota
	tokOperator
	tokName
	tokVariable
	tokString
	tokNumber
	tokValue
	tokRegex
)

type token struct {
	kind  tokenKind
	value string  // operator symbol, name, string or variable text
	num   float64 // tokNumber
	lit   any     // tokValue: true, false or nil
	flags string  // tokRegex
	pos   int     // offset just past the token, as JSONata reports it
}

// operators lists the symbols with their binding power, as the
// reference parser has them; longer symbols are matched first.
var operators = map[string]int{
	".": 75, "[": 80, "]": 0, "{": 70, "}": 0, "(": 80, ")": 0, ",": 0,
	"@": 80, "#": 80, ";": 80, ":": 80, "?": 20, "+": 50, "-": 50, "*": 60,
	"/": 60, "%": 60, "|": 20, "=": 40, "<": 40, ">": 40, "^": 40, "**": 60,
	"..": 20, ":=": 10, "!=": 40, "<=": 40, ">=": 40, "~>": 40, "and": 30,
	"or": 25, "in": 40, "&": 50, "!": 0, "~": 0,
}

type lexer struct {
	src string
	pos int
}

func (l *lexer) errAt(code string, pos int, format string, args ...any) error {
	return newError(code, pos, format, args...)
}

// next returns the next token; prefix tells whether a value is expected,
// where a slash starts a regular expression rather than a division.
func (l *lexer) next(prefix bool) (token, error) {
	src := l.src
	for {
		for l.pos < len(src) && strings.IndexByte(" \t\n\r\v", src[l.pos]) >= 0 {
			l.pos++
		}
		if strings.HasPrefix(src[l.pos:], "/*") {
			end := strings.Index(src[l.pos+2:], "*/")
			if end < 0 {
				return token{}, l.errAt("S0106", len(src), "Comment has no closing tag")
			}
			l.pos += end + 4
			continue
		}
		break
	}
	if l.pos >= len(src) {
		return token{kind: tokEnd, pos: l.pos}, nil
	}
	c := src[l.pos]
	if prefix && c == '/' {
		return l.regex()
	}
	if l.pos+1 < len(src) {
		two := src[l.pos : l.pos+2]
		switch two {
		case "..", ":=", "!=", ">=", "<=", "**", "~>":
			if !(two == ".." && false) {
				l.pos += 2
				return token{kind: tokOperator, value: two, pos: l.pos}, nil
			}
		}
	}
	if _, ok := operators[string(c)]; ok && c != 'a' && c != 'o' && c != 'i' {
		l.pos++
		return token{kind: tokOperator, value: string(c), pos: l.pos}, nil
	}
	switch {
	case c == '"' || c == '\'':
		return l.str(c)
	case c >= '0' && c <= '9':
		return l.number()
	case c == '`':
		end := strings.IndexByte(src[l.pos+1:], '`')
		if end < 0 {
			return token{}, l.errAt("S0105", len(src), "Quoted property name must be terminated with a backquote (`)")
		}
		name := src[l.pos+1 : l.pos+1+end]
		l.pos += end + 2
		return token{kind: tokName, value: name, pos: l.pos}, nil
	}
	start := l.pos
	for l.pos < len(src) {
		r, size := utf8.DecodeRuneInString(src[l.pos:])
		if r < 128 && (strings.ContainsRune(" \t\n\r\v", r) || isOperatorChar(byte(r))) {
			break
		}
		l.pos += size
	}
	word := src[start:l.pos]
	if c == '$' {
		return token{kind: tokVariable, value: word[1:], pos: l.pos}, nil
	}
	switch word {
	case "and", "or", "in":
		return token{kind: tokOperator, value: word, pos: l.pos}, nil
	case "true":
		return token{kind: tokValue, lit: true, value: word, pos: l.pos}, nil
	case "false":
		return token{kind: tokValue, lit: false, value: word, pos: l.pos}, nil
	case "null":
		return token{kind: tokValue, lit: nil, value: word, pos: l.pos}, nil
	}
	return token{kind: tokName, value: word, pos: l.pos}, nil
}

// isOperatorChar tells the characters that end a name; quotes do not:
// the reference reads now't as one name.
func isOperatorChar(c byte) bool {
	return strings.IndexByte(".[]{}(),@#;:?+-*/%|=<>^&!~", c) >= 0
}

func (l *lexer) str(quote byte) (token, error) {
	src := l.src
	var b strings.Builder
	i := l.pos + 1
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\\':
			i++
			if i >= len(src) {
				return token{}, l.errAt("S0101", i, "String literal must be terminated by a matching quote")
			}
			switch e := src[i]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if i+5 > len(src) {
					return token{}, l.errAt("S0104", i, "The escape sequence \\u must be followed by 4 hex digits")
				}
				n, err := strconv.ParseUint(src[i+1:i+5], 16, 16)
				if err != nil {
					return token{}, l.errAt("S0104", i, "The escape sequence \\u must be followed by 4 hex digits")
				}
				r := rune(n)
				i += 4
				// A surrogate pair written as two escapes is one character.
				if r >= 0xD800 && r < 0xDC00 && i+6 < len(src) && src[i+1] == '\\' && src[i+2] == 'u' {
					if lo, err := strconv.ParseUint(src[i+3:i+7], 16, 16); err == nil && lo >= 0xDC00 && lo < 0xE000 {
						r = (r-0xD800)<<10 + (rune(lo) - 0xDC00) + 0x10000
						i += 6
					}
				}
				b.WriteRune(r)
			default:
				return token{}, l.errAt("S0103", i, "Unsupported escape sequence: \\%c", e)
			}
			i++
		case c == quote:
			l.pos = i + 1
			return token{kind: tokString, value: b.String(), pos: l.pos}, nil
		default:
			b.WriteByte(c)
			i++
		}
	}
	return token{}, l.errAt("S0101", len(src), "String literal must be terminated by a matching quote")
}

func (l *lexer) number() (token, error) {
	src := l.src
	i := l.pos
	if src[i] == '0' {
		i++
	} else {
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
	}
	if i+1 < len(src) && src[i] == '.' && src[i+1] >= '0' && src[i+1] <= '9' {
		i++
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j < len(src) && src[j] >= '0' && src[j] <= '9' {
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			i = j
		}
	}
	f, err := strconv.ParseFloat(src[l.pos:i], 64)
	if (err != nil && !isRangeErr(err)) || isInf(f) {
		return token{}, l.errAt("S0102", l.pos, "Number out of range: %s", src[l.pos:i])
	}
	l.pos = i
	return token{kind: tokNumber, num: f, value: src[l.pos-(i-l.pos) : i], pos: i}, nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func (l *lexer) regex() (token, error) {
	src := l.src
	start := l.pos + 1
	i := start
	depth := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\\':
			i++
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case c == '/' && depth == 0:
			pattern := src[start:i]
			if pattern == "" {
				return token{}, l.errAt("S0301", i, "Empty regular expressions are not allowed")
			}
			i++
			fs := i
			for i < len(src) && (src[i] == 'i' || src[i] == 'm') {
				i++
			}
			l.pos = i
			return token{kind: tokRegex, value: pattern, flags: src[fs:i], pos: i}, nil
		}
		i++
	}
	return token{}, l.errAt("S0302", len(src), "No terminating / in regular expression")
}
