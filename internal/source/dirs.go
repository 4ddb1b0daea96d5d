package source

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// openDirs looks at entries of a tree through their directories, each
// opened once. os.Root.Lstat("a/b/c/f") opens and closes a, a/b and a/b/c
// on the way to f, so that no symlink leads it out; on a project of ten
// thousand files that walk, twice per file, cost more than everything
// else a run of an unchanged project does. Holding each directory open
// keeps the guarantee at one system call per file.
//
// Only directories known to be real directories of the tree are opened
// (the copier made or checked them), and none of them is replaced while
// a Take runs, so a cached handle never names a stale directory.
type openDirs struct {
	root *os.Root
	mu   sync.Mutex
	dirs map[string]*os.Root
}

func newOpenDirs(root *os.Root) *openDirs {
	return &openDirs{root: root, dirs: map[string]*os.Root{}}
}

// dir returns directory rel ("." for the top), opened.
func (d *openDirs) dir(rel string) (*os.Root, error) {
	if rel == "." || rel == "" {
		return d.root, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r := d.dirs[rel]; r != nil {
		return r, nil
	}
	r, err := d.root.OpenRoot(rel)
	if err != nil {
		return nil, err
	}
	d.dirs[rel] = r
	return r, nil
}

// lstat is root.Lstat(rel).
func (d *openDirs) lstat(rel string) (fs.FileInfo, error) {
	r, err := d.dir(filepath.Dir(rel))
	if err != nil {
		return nil, err
	}
	return r.Lstat(filepath.Base(rel))
}

// readlink is root.Readlink(rel).
func (d *openDirs) readlink(rel string) (string, error) {
	r, err := d.dir(filepath.Dir(rel))
	if err != nil {
		return "", err
	}
	return r.Readlink(filepath.Base(rel))
}

// readDir lists directory rel.
func (d *openDirs) readDir(rel string) ([]fs.DirEntry, error) {
	r, err := d.dir(rel)
	if err != nil {
		return nil, err
	}
	f, err := r.Open(".")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// close closes every directory opened.
func (d *openDirs) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.dirs {
		r.Close()
	}
	clear(d.dirs)
}
