package imagebuild

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// ignore is the parsed .dockerignore of a context: its rules in order,
// the last matching rule deciding, as the docker CLI does.
type ignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	segs   []string // the pattern split at "/"; "**" matches any number of segments
	negate bool     // a "!" rule includes again what earlier rules excluded
}

// parseIgnore reads a .dockerignore: one pattern per line, "#" comments,
// "!" exceptions, paths relative to the context root (a leading "/" is
// dropped) in path.Match syntax with "**" for any number of directories.
func parseIgnore(r io.Reader) (*ignore, error) {
	ig := &ignore{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		rule := ignoreRule{}
		if strings.HasPrefix(text, "!") {
			rule.negate = true
			text = strings.TrimSpace(text[1:])
		}
		text = path.Clean(strings.TrimPrefix(text, "/"))
		if text == "." {
			// "." and "/" name the whole context; excluding it would
			// send nothing, which no one means.
			continue
		}
		rule.segs = strings.Split(text, "/")
		for _, s := range rule.segs {
			if _, err := path.Match(s, ""); err != nil {
				return nil, fmt.Errorf(".dockerignore line %d: %q: %w", line, text, err)
			}
		}
		ig.rules = append(ig.rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return ig, nil
}

// excluded reports whether the slash-separated path rel (relative to the
// context) is left out. A pattern naming a directory leaves out what is
// beneath it.
func (ig *ignore) excluded(rel string) bool {
	if ig == nil {
		return false
	}
	segs := strings.Split(rel, "/")
	out := false
	for _, r := range ig.rules {
		if matchPrefix(r.segs, segs) {
			out = !r.negate
		}
	}
	return out
}

// matchPrefix reports whether pat matches segs or one of its parent
// directories.
func matchPrefix(pat, segs []string) bool {
	for i := 1; i <= len(segs); i++ {
		if matchSegs(pat, segs[:i]) {
			return true
		}
	}
	return false
}

func matchSegs(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if matchSegs(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	ok, _ := path.Match(pat[0], segs[0])
	return ok && matchSegs(pat[1:], segs[1:])
}

// mayInclude reports whether some file beneath the excluded directory
// rel could be included again by a "!" rule, in which case the directory
// must still be walked.
func (ig *ignore) mayInclude(rel string) bool {
	segs := strings.Split(rel, "/")
	for _, r := range ig.rules {
		if r.negate && below(r.segs, segs) {
			return true
		}
	}
	return false
}

// below reports whether pat may match a path beneath the directory segs.
func below(pat, segs []string) bool {
	switch {
	case len(pat) == 0:
		return false
	case len(segs) == 0 || pat[0] == "**":
		return true
	}
	ok, _ := path.Match(pat[0], segs[0])
	return ok && below(pat[1:], segs[1:])
}
