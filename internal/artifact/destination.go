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

// ErrUnsafePath is wrapped by errors about a path that would lead outside
// the directory it is meant for: absolute, with "..", or through a symlink.
var ErrUnsafePath = errors.New("unsafe path")

// localPath checks that p, which came from a manifest or an archive, names
// something strictly inside a directory: slash-separated, relative, clean
// and without "." or "..".
func localPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q: %w: not a relative path", p, ErrUnsafePath)
	}
	for elem := range strings.SplitSeq(p, "/") {
		switch {
		case elem == "" || elem == "." || elem == "..":
			return fmt.Errorf("%q: %w: empty, . or .. element", p, ErrUnsafePath)
		case strings.ContainsRune(elem, 0):
			return fmt.Errorf("%q: %w: contains NUL", p, ErrUnsafePath)
		}
	}
	return nil
}

// destination writes into a directory. Everything goes through an os.Root,
// which keeps writes inside the directory even if it changes under us, and
// parent directories are checked one by one so that nothing is written
// through a symlink, even one that stays inside: a restored output must land
// where its path says, not wherever a link left in the workspace points.
//
// A destination is used by one goroutine at a time.
type destination struct {
	root *os.Root
	// dirs are directories known to be real (not symlinks), by slash path.
	dirs map[string]bool
	// made are the directories this destination created, parents first,
	// so that a failed restore can take them away again.
	made []string
	// dirPerm is the mode of the directories it creates: the root's, so
	// that what is restored into a private directory (a release in the
	// data directory) stays private and what is restored into the user's
	// own directory gets its usual mode.
	dirPerm fs.FileMode
}

func newDestination(root *os.Root) *destination {
	perm := fs.FileMode(0o755)
	if fi, err := root.Stat("."); err == nil {
		perm = fi.Mode().Perm() | 0o700
	}
	return &destination{root: root, dirs: map[string]bool{".": true}, dirPerm: perm}
}

// mkdirAll makes sure dir (a checked slash path) and its parents are real
// directories, creating what is missing.
func (d *destination) mkdirAll(dir string) error {
	if d.dirs[dir] {
		return nil
	}
	if err := d.mkdirAll(path.Dir(dir)); err != nil {
		return err
	}
	fi, err := d.root.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		err = d.root.Mkdir(dir, d.dirPerm)
		if err == nil {
			d.made = append(d.made, dir)
			d.dirs[dir] = true
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating directory %s: %w", dir, err)
		}
		fi, err = d.root.Lstat(dir) // created concurrently: look at what is there
	}
	switch {
	case err != nil:
		return fmt.Errorf("creating directory %s: %w", dir, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symlink: %w: refusing to write through it", dir, ErrUnsafePath)
	case !fi.IsDir():
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	d.dirs[dir] = true
	return nil
}

// clear removes whatever is at name (a file or a symlink, never following
// it) so that it can be created afresh. A directory in the way is an error:
// replacing a tree is not what writing one file means.
func (d *destination) clear(name string) error {
	fi, err := d.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s exists and is a directory", name)
	}
	return d.root.Remove(name)
}

// removeMade removes the directories this destination created that are
// empty, children before parents. Non-empty ones hold something that was
// not ours, and stay.
func (d *destination) removeMade() {
	for _, dir := range slices.Backward(d.made) {
		d.root.Remove(dir)
	}
}
