package artifact

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// ErrNoMatch is wrapped by errors about patterns that matched no file. An
// output that was declared but not produced is a mistake in the pipeline
// (a typo in a path, a build that wrote elsewhere), so Collect, Match and
// HashFiles report it; HashPresent, for cache keys, does not.
var ErrNoMatch = errors.New("matched no file")

// NoMatchError lists the patterns that matched no file. It wraps
// ErrNoMatch.
type NoMatchError struct {
	Patterns []string
}

func (e *NoMatchError) Error() string {
	q := make([]string, len(e.Patterns))
	for i, p := range e.Patterns {
		q[i] = fmt.Sprintf("%q", p)
	}
	return strings.Join(q, ", ") + " " + ErrNoMatch.Error()
}

func (e *NoMatchError) Unwrap() error { return ErrNoMatch }

// Match returns the files under root that match any of patterns, as sorted
// slash-separated paths relative to root. Files are regular files and
// symlinks (a symlink is listed, never followed, even when it points to a
// directory); .git directories are skipped.
//
// A pattern is a slash-separated path relative to root whose segments use
// path.Match syntax, where a segment "**" matches zero or more directories:
// "bin/app", "dist/**", "**/*.go", "src/**/testdata". A pattern that
// matches a directory matches every file beneath it, so "dist" is the same
// as "dist/**". Absolute patterns and ".." are rejected (ErrUnsafePath),
// as are malformed ones (path.ErrBadPattern). If a pattern matches nothing
// the error is a *NoMatchError.
func Match(root string, patterns []string) ([]string, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return match(r, patterns, matchOptions{})
}

// matchOptions tune match for its callers.
type matchOptions struct {
	// allowMissing: a pattern that matches nothing is not an error, its
	// files are simply absent (cache keys).
	allowMissing bool
	// dirs lists the directories that patterns match too (a matched
	// directory, and every directory beneath it), so that a manifest of
	// outputs keeps empty directories and directory modes. A directory
	// then counts as a match on its own, so an empty one is not missing.
	dirs bool
}

// match walks root once for all patterns.
func match(root *os.Root, patterns []string, opt matchOptions) ([]string, error) {
	pats, err := compilePatterns(patterns)
	if err != nil {
		return nil, err
	}
	if len(pats) == 0 {
		return nil, nil
	}
	w := &globWalker{root: root, pats: pats, dirs: opt.dirs, hit: make([]bool, len(pats))}
	inherited := make([]bool, len(pats))
	for i, p := range pats {
		inherited[i], _ = p.match(nil)
	}
	if err := w.walk(".", nil, inherited); err != nil {
		return nil, err
	}
	var missing []string
	for i, hit := range w.hit {
		if !hit {
			missing = append(missing, pats[i].text)
		}
	}
	if missing != nil && !opt.allowMissing {
		return nil, &NoMatchError{Patterns: missing}
	}
	slices.Sort(w.found)
	return w.found, nil
}

// pattern is a compiled glob.
type pattern struct {
	text string   // as the user wrote it, for messages
	segs []string // cleaned segments; runs of "**" collapsed into one
}

func compilePatterns(patterns []string) ([]pattern, error) {
	out := make([]pattern, 0, len(patterns))
	for _, text := range patterns {
		p, err := compilePattern(text)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func compilePattern(text string) (pattern, error) {
	if text == "" {
		return pattern{}, fmt.Errorf("pattern %q: %w", text, path.ErrBadPattern)
	}
	// ".." is refused before cleaning, since Clean would quietly turn
	// "a/../../b" into "../b" and "a/../b" into "b".
	if path.IsAbs(text) || slices.Contains(strings.Split(text, "/"), "..") {
		return pattern{}, fmt.Errorf("pattern %q: %w: patterns are relative to the workspace and cannot use ..", text, ErrUnsafePath)
	}
	p := pattern{text: text}
	clean := path.Clean(text)
	if clean == "." {
		return p, nil
	}
	for seg := range strings.SplitSeq(clean, "/") {
		if _, err := path.Match(seg, ""); err != nil {
			return pattern{}, fmt.Errorf("pattern %q: %w", text, err)
		}
		if seg == "**" && len(p.segs) > 0 && p.segs[len(p.segs)-1] == "**" {
			continue
		}
		p.segs = append(p.segs, seg)
	}
	return p, nil
}

// match reports whether p matches the path made of segs (exact) and
// whether it could match something beneath it (deeper), which decides
// whether a directory is worth walking.
func (p pattern) match(segs []string) (exact, deeper bool) {
	return matchSegs(p.segs, segs)
}

func matchSegs(pat, segs []string) (exact, deeper bool) {
	for len(pat) > 0 && len(segs) > 0 && pat[0] != "**" {
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false, false
		}
		pat, segs = pat[1:], segs[1:]
	}
	switch {
	case len(pat) == 0:
		return len(segs) == 0, false
	case len(segs) == 0:
		return len(pat) == 1 && pat[0] == "**", true
	}
	// pat[0] is "**": it matches no segment, or eats one and stays.
	e1, d1 := matchSegs(pat[1:], segs)
	if e1 && d1 {
		return true, true
	}
	e2, d2 := matchSegs(pat, segs[1:])
	return e1 || e2, d1 || d2
}

// globWalker walks root once for all patterns, descending only into
// directories that some pattern could match beneath, so that "bin/app" does
// not read node_modules.
type globWalker struct {
	root  *os.Root
	pats  []pattern
	dirs  bool   // list matched directories too (matchOptions.dirs)
	hit   []bool // hit[i]: pats[i] matched at least one file
	found []string
}

// walk lists dir (slash path, "." for the root, segments segs).
// inherited[i] says that pattern i matched dir or one of its parents, so
// everything beneath matches it.
func (w *globWalker) walk(dir string, segs []string, inherited []bool) error {
	f, err := w.root.Open(dir)
	if err != nil {
		return fmt.Errorf("listing %s: %w", dir, err)
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("listing %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if name == ".git" {
			continue // the repository, not the project; never an output or input
		}
		rel := name
		if dir != "." {
			rel = dir + "/" + name
		}
		child := append(segs[:len(segs):len(segs)], name)
		switch t := e.Type(); {
		case t.IsDir():
			sub := make([]bool, len(w.pats))
			descend, matched := false, false
			for i, p := range w.pats {
				exact, deeper := inherited[i], false
				if !exact {
					exact, deeper = p.match(child)
				}
				sub[i] = exact
				descend = descend || exact || deeper
				if exact && w.dirs {
					w.hit[i], matched = true, true
				}
			}
			if matched {
				w.found = append(w.found, rel)
			}
			if descend {
				if err := w.walk(rel, child, sub); err != nil {
					return err
				}
			}
		case t.IsRegular() || t&fs.ModeSymlink != 0:
			matched := false
			for i, p := range w.pats {
				if inherited[i] {
					w.hit[i], matched = true, true
				} else if exact, _ := p.match(child); exact {
					w.hit[i], matched = true, true
				}
			}
			if matched {
				w.found = append(w.found, rel)
			}
		}
		// Sockets, FIFOs and devices are not files one can store.
	}
	return nil
}
