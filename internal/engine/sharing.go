package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/velocity-ci/velocity/internal/plan"
)

// Undeclared sharing: the actions of a stage share one workspace, so an
// action can read what an earlier one wrote there without either saying so.
// That works while both execute, and breaks as soon as the writer's result
// comes from the cache (or a rerun keeps it): only declared outputs are
// restored, so the reader finds nothing (".venv/bin/python: No such file or
// directory", exit 127, instead of the real test failure).
//
// Tracing every file an action reads would cost more than most actions;
// what is cheap is noticing what an action creates near the top of the
// workspace, where dependency folders and build directories live. Before
// and after each executed script the engine lists the workspace's top
// level and the names inside each top-level directory (a readdir each, no
// walk: node_modules costs one listing, not a visit of its tree). A path
// that appeared and is not covered by the writer's outputs or cache paths
// is remembered; when a later action that runs after the writer (its needs,
// or a later stage) starts and may read it (its inputs match the path, or
// it declares no inputs and so reads everything), the run gets a warning
// naming both actions and the path, or, in strict mode, the reader fails.

// regenerated are names that tools recreate by themselves when missing, so
// a reader that finds them absent only runs slower, never wrongly.
func regenerated() []string {
	return []string{".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".eslintcache"}
}

// workspacePicture is the top two levels of a workspace: for each
// top-level entry, whether it is a directory, its modification time, and
// (for directories) the names it holds.
type workspacePicture map[string]pictureEntry

type pictureEntry struct {
	dir      bool
	modified time.Time
	names    []string // sorted; directories only
}

// takePicture lists dir and each of its top-level directories but those
// declared wholesale (e.g. node_modules as a cache path: whatever appears
// inside is declared anyway). Entries that vanish while it looks are left
// out: an action running next to the one being watched may be deleting
// them.
func takePicture(dir string, declared []string) (workspacePicture, error) {
	root, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("list the workspace: %w", err)
	}
	defer root.Close()
	return picture(root, declared)
}

// picture is takePicture of the directory open as root, read again from
// its start. Entries are looked up relative to root: two pictures per
// executed action made opening the workspace by its path, and a stat of
// each entry by its path, a tenth of the engine's CPU per action.
func picture(root *os.File, declared []string) (workspacePicture, error) {
	if _, err := root.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("list the workspace: %w", err)
	}
	entries, err := root.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list the workspace: %w", err)
	}
	fd := int(root.Fd())
	pic := make(workspacePicture, len(entries))
	for _, e := range entries {
		if slices.Contains(regenerated(), e.Name()) {
			continue
		}
		var st unix.Stat_t
		err := unix.Fstatat(fd, e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list the workspace: %s: %w", e.Name(), err)
		}
		pe := pictureEntry{dir: st.Mode&unix.S_IFMT == unix.S_IFDIR, modified: time.Unix(st.Mtim.Unix())}
		if pe.dir && !coveredWhole(e.Name(), declared) {
			if pe.names, err = dirNames(fd, e.Name()); err != nil {
				return nil, err
			}
		}
		pic[e.Name()] = pe
	}
	return pic, nil
}

// dirNames lists the directory name in the directory open as parent,
// without a stat per entry.
func dirNames(parent int, name string) ([]string, error) {
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the workspace: %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", name, err)
	}
	slices.Sort(names)
	return names, nil
}

// created returns the paths (slash-separated, relative to the workspace)
// that exist in after but not in before: new top-level entries, and new
// entries inside top-level directories that existed before. A path that
// was replaced (deleted and made again) is not seen; that is the price of
// not walking.
func created(before, after workspacePicture) []string {
	var out []string
	for name, a := range after {
		b, ok := before[name]
		switch {
		case !ok:
			out = append(out, name)
		case a.dir && b.dir && !a.modified.Equal(b.modified):
			for _, child := range a.names {
				if _, found := slices.BinarySearch(b.names, child); !found && !slices.Contains(regenerated(), child) {
					out = append(out, name+"/"+child)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// covered reports whether p is among the declared paths: equal to one of
// the globs' matches, beneath one, or a directory holding one (an output
// "dist/app" covers the directory dist it creates).
func covered(p string, globs []string) bool {
	segs := strings.Split(p, "/")
	for _, g := range globs {
		pat := strings.Split(path.Clean(g), "/")
		if exact, deeper := globMatch(pat, segs); exact || deeper {
			return true
		}
		// p beneath a match: a parent of p matches.
		for i := 1; i < len(segs); i++ {
			if exact, _ := globMatch(pat, segs[:i]); exact {
				return true
			}
		}
	}
	return false
}

// coveredWhole reports whether a glob matches p itself, so that everything
// beneath p is declared too.
func coveredWhole(p string, globs []string) bool {
	for _, g := range globs {
		if exact, _ := globMatch(strings.Split(path.Clean(g), "/"), strings.Split(p, "/")); exact {
			return true
		}
	}
	return false
}

// globMatch reports whether the pattern segments match the path segments
// exactly, and whether they could match something beneath them. It uses
// the syntax of outputs and inputs: path.Match segments, "**" for any
// number of directories.
func globMatch(pat, segs []string) (exact, deeper bool) {
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
	e1, d1 := globMatch(pat[1:], segs)
	e2, d2 := globMatch(pat, segs[1:])
	return e1 || e2, d1 || d2
}

// sharingWatch is what one execution knows of the paths its actions
// created without declaring them. Its methods may be called from the
// attempts' goroutines concurrently.
type sharingWatch struct {
	dir string
	// declared are the outputs and cache paths of every action of the
	// plan: a path one of them declares is handed over properly, whoever
	// was running when it appeared.
	declared []string
	// warn receives each warning once; nil drops them.
	warn func(msg string)
	// strict makes a reader of an undeclared path fail.
	strict bool

	// rootMu serialises the pictures, which read root from its start.
	rootMu sync.Mutex
	// root is the workspace, opened by the first picture and kept open
	// until close: opening it by its path for each picture cost more than
	// reading it. Were the workspace itself deleted and made again by an
	// action, the pictures would show the deleted one, empty, and find
	// nothing created: the check is advice and would only fall silent.
	root *os.File

	mu sync.Mutex
	// writers holds, for each path created but not declared, the actions
	// whose script was running when it appeared (the writer is one of
	// them; more than one only when actions ran side by side).
	writers map[string][]*plan.Node
	// warned holds "reader writer path" lines already reported.
	warned map[string]bool
}

func newSharingWatch(p *plan.Plan, dir string, warn func(string), strict bool) *sharingWatch {
	w := &sharingWatch{dir: dir, warn: warn, strict: strict, writers: map[string][]*plan.Node{}, warned: map[string]bool{}}
	p.Each(func(_ *plan.Stage, n *plan.Node) {
		w.declared = append(w.declared, n.Outputs...)
		w.declared = append(w.declared, n.CachePaths...)
	})
	return w
}

// before pictures the workspace just before n's script starts. A nil
// picture (the workspace could not be listed) turns the check off for
// this attempt rather than failing it: the check is advice, not a gate.
func (w *sharingWatch) before() workspacePicture {
	pic, err := w.picture()
	if err != nil {
		return nil
	}
	return pic
}

// after records what n's script created without declaring it.
func (w *sharingWatch) after(n *plan.Node, before workspacePicture) {
	if before == nil {
		return
	}
	now, err := w.picture()
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range created(before, now) {
		if !covered(p, w.declared) && !slices.Contains(w.writers[p], n) {
			w.writers[p] = append(w.writers[p], n)
		}
	}
}

// picture pictures the workspace through root.
func (w *sharingWatch) picture() (workspacePicture, error) {
	w.rootMu.Lock()
	defer w.rootMu.Unlock()
	if w.root == nil {
		root, err := os.Open(w.dir)
		if err != nil {
			return nil, fmt.Errorf("list the workspace: %w", err)
		}
		w.root = root
	}
	return picture(w.root, w.declared)
}

// close closes root; no picture may be taken after it.
func (w *sharingWatch) close() {
	w.rootMu.Lock()
	defer w.rootMu.Unlock()
	if w.root != nil {
		w.root.Close()
		w.root = nil
	}
}

// check looks for paths that reader may read although an action that ran
// before it created them undeclared. It returns the messages not reported
// before and whether strict mode should fail the reader.
func (w *sharingWatch) check(reader *plan.Node) (msgs []string, fail bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	paths := make([]string, 0, len(w.writers))
	for p := range w.writers {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var earlier []*plan.Node // reader.Before(), computed once and only when needed
	for _, p := range paths {
		if earlier == nil {
			earlier = reader.Before()
		}
		// One writer that finished before the reader started suffices;
		// the message names every candidate, since the picture cannot
		// tell which of the actions running together made the path.
		writers := w.writers[p]
		before := slices.ContainsFunc(writers, func(wr *plan.Node) bool {
			return wr != reader && slices.Contains(earlier, wr)
		})
		if !before || !reads(reader, p) {
			continue
		}
		key := reader.ID() + " " + p
		if w.warned[key] {
			continue
		}
		w.warned[key] = true
		msgs = append(msgs, sharingMessage(reader, writers, p))
	}
	return msgs, w.strict && len(msgs) > 0
}

// reads reports whether reader may read p: its inputs match p (or
// something beneath it), or it declares none and so depends on everything.
// A path the reader declares itself (its own output or cache path) is
// its own business.
func reads(reader *plan.Node, p string) bool {
	if covered(p, reader.Outputs) || covered(p, reader.CachePaths) {
		return false
	}
	return reader.Inputs == nil || covered(p, reader.Inputs)
}

// sharingMessage words the warning so that the fix is in it.
func sharingMessage(reader *plan.Node, writers []*plan.Node, p string) string {
	writers = slices.SortedFunc(slices.Values(writers), func(a, b *plan.Node) int { return strings.Compare(a.ID(), b.ID()) })
	names := make([]string, len(writers))
	for i, wr := range writers {
		names[i] = wr.ID()
	}
	who := strings.Join(names, " or ")
	if len(writers) > 1 {
		who += " (they ran at the same time)"
	}
	first := writers[0].Name
	return fmt.Sprintf("%s may read %s, which %s created but does not list in outputs or cache: "+
		"when %s comes from the cache, %s will be missing; add %s to %s's outputs, or do both in one action with cache: [%s]",
		reader.ID(), p, who, first, p, p, first, p)
}
