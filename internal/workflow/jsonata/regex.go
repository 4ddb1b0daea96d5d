package jsonata

import (
	"regexp"
	"strings"
)

// regexValue is a compiled regular expression literal. JSONata uses
// JavaScript regular expressions; Go's RE2 accepts most of what users
// write, and rejects look-around and back-references at compile time.
type regexValue struct {
	re     *regexp.Regexp
	source string
}

func compileRegex(pattern, flags string, pos int) (*regexValue, error) {
	prefix := ""
	if strings.Contains(flags, "i") {
		prefix += "i"
	}
	if strings.Contains(flags, "m") {
		prefix += "m"
	}
	// JavaScript has no inline flags; RE2 would accept them silently.
	for i := 0; i+2 < len(pattern); i++ {
		if pattern[i] == '\\' {
			i++
			continue
		}
		if pattern[i] == '(' && pattern[i+1] == '?' && strings.IndexByte(":=!<", pattern[i+2]) < 0 {
			return nil, newError("S0302", pos, "Invalid regular expression /%s/: JavaScript has no inline flags", pattern)
		}
	}
	src := pattern
	if prefix != "" {
		src = "(?" + prefix + ")" + pattern
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, newError("S0302", pos, "Unsupported regular expression /%s/: %v", pattern, err)
	}
	return &regexValue{re: re, source: pattern}, nil
}

// match is one match as the reference's regex closures return it.
type match struct {
	text   string
	index  int // in UTF-16 code units, as JavaScript counts
	groups []string
}

func (r *regexValue) all(s string, limit int) []match {
	var out []match
	for _, loc := range r.re.FindAllStringSubmatchIndex(s, -1) {
		if limit >= 0 && len(out) >= limit {
			break
		}
		m := match{text: s[loc[0]:loc[1]], index: utf16Len(s[:loc[0]])}
		for g := 2; g < len(loc); g += 2 {
			if loc[g] < 0 {
				m.groups = append(m.groups, "")
			} else {
				m.groups = append(m.groups, s[loc[g]:loc[g+1]])
			}
		}
		out = append(out, m)
	}
	return out
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
