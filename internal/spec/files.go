package spec

import (
	"fmt"
	"path"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// This file reads the keys of an action that name files of the
// workspace: outputs, inputs, cache and cache_key.

// cacheForms lists what cache accepts, for its type error.
const cacheForms = "false, true, a list of paths such as [node_modules], " +
	"or a mapping such as {paths: [node_modules], key: [package-lock.json], result: false}"

// cacheSource remembers where an action's cache settings were written,
// for the checks that relate them once the whole action is read.
type cacheSource struct {
	key      Pos  // cache_key's value; zero when absent or empty
	innerKey bool // cache is a mapping with a key
	// paths is set when cache names paths, or is written so badly that
	// whether it meant to is unknown: either way a key without paths
	// would only repeat the error already reported.
	paths bool
}

// globs reads a list of workspace globs, or a single one: "outputs:
// dist/**" reads as well as a list. Null and an empty list give nil.
func (d *decoder) globs(v ast.Node, path string) []string {
	if isNull(v) {
		return nil
	}
	if seq, ok := v.(*ast.SequenceNode); ok {
		return d.pathList(seq.Values, path, true)
	}
	if _, ok := scalarText(v); !ok {
		d.c.add(posOf(v), path, "must be a file or glob, or a list of them, got %s", kindOf(v))
		return nil
	}
	return d.pathList([]ast.Node{v}, path, true)
}

// inputs reads an action's inputs. Unlike the other lists, an empty one
// is kept: nil means every file of the snapshot, an empty list none.
func (d *decoder) inputs(v ast.Node, path string) []string {
	if isNull(v) {
		// As with an empty env value, make the user say which one.
		d.c.add(posOf(v), path, "must be a file or glob, or a list of them, got null "+
			"(write [] for no files, or leave inputs out for every file)")
		return nil
	}
	in := d.globs(v, path)
	if seq, ok := v.(*ast.SequenceNode); ok && len(seq.Values) == 0 {
		in = []string{}
	}
	return in
}

// plainPaths reads a list of workspace paths that are not globs, as the
// directories of a dependency cache must be named exactly.
func (d *decoder) plainPaths(v ast.Node, path string) []string {
	if isNull(v) {
		return nil
	}
	seq, ok := v.(*ast.SequenceNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a list of paths such as [node_modules], got %s", kindOf(v))
		return nil
	}
	return d.pathList(seq.Values, path, false)
}

// pathList checks and cleans each of items, a list of paths or, when
// glob is set, of globs. Entries are cleaned so that "./dist/" and "dist"
// mean the same to whoever matches them against the workspace.
func (d *decoder) pathList(items []ast.Node, path string, glob bool) []string {
	var out []string
	seen := map[string]string{} // cleaned to first written
	for _, item := range items {
		item = d.resolve(item)
		s, ok := scalarText(item)
		if !ok {
			what := "a path"
			if glob {
				what = "a file or glob"
			}
			d.c.add(posOf(item), path, "each entry must be %s, got %s", what, kindOf(item))
			continue
		}
		clean, problem := checkPath(s, glob)
		switch {
		case problem != "":
			d.c.add(posOf(item), path, "%s", problem)
		case seen[clean] == s:
			d.c.add(posOf(item), path, "%q is listed twice", s)
		case seen[clean] != "":
			d.c.add(posOf(item), path, "%q is the same path as %q, listed before", s, seen[clean])
		default:
			seen[clean] = s
			out = append(out, clean)
		}
	}
	return out
}

// checkPath returns s cleaned, or why it is not a path (or, with glob, a
// glob) inside the workspace. Paths are slash-separated and relative to
// the workspace, whatever the host.
func checkPath(s string, glob bool) (clean, problem string) {
	if strings.TrimSpace(s) == "" {
		return "", "entries must not be empty"
	}
	if path.IsAbs(s) {
		return "", fmt.Sprintf("%q is absolute; paths are relative to the workspace", s)
	}
	if s == "~" || strings.HasPrefix(s, "~/") {
		return "", fmt.Sprintf(`%q starts with "~"; paths are relative to the workspace and "~" is not expanded`, s)
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == ".." {
			return "", fmt.Sprintf(`%q leaves the workspace; ".." is not allowed`, s)
		}
	}
	clean = path.Clean(s)
	if clean == "." {
		what := "a file or directory"
		if glob {
			what += ` (or "**" for every file)`
		}
		return "", fmt.Sprintf("%q names the workspace itself; name %s inside it", s, what)
	}
	if !glob {
		if strings.ContainsAny(s, "*?[") {
			return "", fmt.Sprintf("%q is a glob; cache paths must be plain paths such as node_modules", s)
		}
		return clean, ""
	}
	for _, seg := range strings.Split(clean, "/") {
		if seg == "**" {
			continue
		}
		if strings.Contains(seg, "**") {
			return "", fmt.Sprintf(`%q: "**" must be a whole path segment, as in "src/**/*.go"`, s)
		}
		// Match checks the whole pattern even when the sample does not
		// match, so any sample finds a syntax error.
		if _, err := path.Match(seg, "x"); err != nil {
			return "", fmt.Sprintf(`%q is not a valid glob (check its "[", "]" and "\")`, s)
		}
	}
	return clean, ""
}

// cache reads an action's cache key: false opts out of the result cache,
// true is the default, a list names dependency-cache paths, and a mapping
// says all of that at once.
func (d *decoder) cache(v ast.Node, path string, a *Action, src *cacheSource) {
	switch v := v.(type) {
	case nil, *ast.NullNode:
		return
	case *ast.BoolNode:
		a.NoResultCache = !v.Value
		return
	case *ast.SequenceNode:
		a.CachePaths = d.plainPaths(v, path)
		src.paths = len(v.Values) > 0
		return
	case *ast.MappingNode:
		var keyPos Pos
		d.mapping(v, path, fields{
			"paths": func(v ast.Node) {
				a.CachePaths = d.plainPaths(v, join(path, "paths"))
				seq, isList := v.(*ast.SequenceNode)
				src.paths = !isNull(v) && (!isList || len(seq.Values) > 0)
			},
			"key": func(v ast.Node) {
				if a.CacheKey = d.globs(v, join(path, "key")); a.CacheKey != nil {
					keyPos, src.innerKey = posOf(v), true
				}
			},
			"result": func(v ast.Node) {
				if !isNull(v) {
					a.NoResultCache = !d.boolean(v, join(path, "result"))
				}
			},
		})
		if src.innerKey && !src.paths {
			d.c.add(keyPos, join(path, "key"), "has no effect without paths; add paths: [DIR]")
		}
		return
	}
	src.paths = true
	got := kindOf(v)
	if s, isText := scalarText(v); isText {
		got = fmt.Sprintf("%q", s)
	}
	d.c.add(posOf(v), path, "must be %s; got %s", cacheForms, got)
}

// cacheKey reads cache_key, which is checked against cache once the
// whole action is read.
func (d *decoder) cacheKey(v ast.Node, path string, a *Action, src *cacheSource) {
	key := d.globs(v, path)
	if key == nil {
		return
	}
	src.key = posOf(v)
	if !src.innerKey {
		// When cache also has a key, that one stays and checkCache
		// reports the clash.
		a.CacheKey = key
	}
}

// checkCache relates cache_key to cache, which may be written in either
// order.
func (d *decoder) checkCache(a *Action, src cacheSource, path string) {
	if src.key == (Pos{}) {
		return
	}
	switch {
	case src.innerKey:
		d.c.add(src.key, join(path, "cache_key"), "cannot be combined with cache.key; list the files in one place")
	case !src.paths:
		d.c.add(src.key, join(path, "cache_key"), "has no effect without cache paths; add cache: [DIR]")
	}
}
