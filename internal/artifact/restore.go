package artifact

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strings"
)

// Restore writes the entries of a manifest into root (created if
// missing): directories with their modes (empty ones included), files with
// their content and modes, and symlinks recreated with their targets
// unchanged and never followed. Existing files and symlinks of the same
// names are replaced; a directory where a file should go is an error.
//
// Restore is all or nothing as far as it can be: every file is first
// written to a temporary name beside its destination, with its content
// checked against its digest, and only when all are complete are they
// renamed into place. A missing or corrupt blob (ErrNotFound, ErrCorrupt)
// therefore leaves root as it was, apart from directories it could not
// remove because something else was put in them.
//
// Paths must be relative, clean and free of ".." and ".git", and a
// relative link target must not climb out of root; nothing is written
// beneath a symlink, whether the manifest lists it or it is already in
// root (ErrUnsafePath).
func (b *Blobs) Restore(root string, files []File) error {
	files = slices.SortedFunc(slices.Values(files), func(x, y File) int { return strings.Compare(x.Path, y.Path) })
	if err := checkManifest(files); err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer r.Close()

	dst := newDestination(r)
	temps := make([]string, len(files))
	placed := make([]bool, len(files))
	ok := false
	defer func() {
		if ok {
			return
		}
		for i, t := range temps {
			switch {
			case placed[i]:
				r.Remove(files[i].Path)
			case t != "":
				r.Remove(t)
			}
		}
		dst.removeMade()
	}()

	// Directories are made by this goroutine alone, before any content, so
	// that the workers below need no shared state. They stay writable
	// until every file is in place: a read-only one could not receive
	// its files.
	for _, f := range files {
		if !f.IsDir() {
			if err := dst.mkdirAll(path.Dir(f.Path)); err != nil {
				return fmt.Errorf("restore %s: %w", f.Path, err)
			}
			continue
		}
		if err := dst.mkdirAll(f.Path); err != nil {
			return fmt.Errorf("restore %s: %w", f.Path, err)
		}
		// A read-only directory left by an earlier restore of the same
		// output (artifacts --to the same place twice) must take the new
		// files; it gets its recorded mode back below.
		if fi, err := r.Lstat(f.Path); err == nil && fi.Mode().Perm()&0o700 != 0o700 {
			if err := r.Chmod(f.Path, fi.Mode().Perm()|0o700); err != nil {
				return fmt.Errorf("restore %s: %w", f.Path, err)
			}
		}
	}
	err = forEach(len(files), func() func(int) error {
		buf := make([]byte, copyBuffer)
		return func(i int) error {
			if files[i].IsDir() {
				return nil
			}
			t, err := b.writeTemp(r, files[i], buf)
			temps[i] = t
			if err != nil {
				return fmt.Errorf("restore %s: %w", files[i].Path, err)
			}
			return nil
		}
	})
	if err != nil {
		return err
	}
	// Renames are as slow as creating files on some disks, so they are
	// spread over workers too; checkManifest made sure no two entries
	// touch the same name. Rename replaces a file or symlink already there
	// without following it.
	err = forEach(len(files), func() func(int) error {
		return func(i int) error {
			if files[i].IsDir() {
				return nil
			}
			if err := r.Rename(temps[i], files[i].Path); err != nil {
				return fmt.Errorf("restore %s: %w", files[i].Path, err)
			}
			placed[i] = true
			return nil
		}
	})
	if err != nil {
		return err
	}
	// Children before parents (files is sorted by path), so that a parent
	// made read-only last does not stop its children's chmod. mkdirAll
	// checked that each is a real directory, not a symlink.
	for _, f := range slices.Backward(files) {
		if f.IsDir() {
			if err := r.Chmod(f.Path, f.Mode.Perm()); err != nil {
				return fmt.Errorf("restore %s: %w", f.Path, err)
			}
		}
	}
	ok = true
	return nil
}

// checkManifest refuses manifests that could write outside the workspace
// or contradict themselves: unsafe paths, duplicates, an entry beneath
// something other than a directory entry (a file inside a symlink would be
// written through it), relative links that climb out of the workspace,
// and entries that File.Validate refuses. files is sorted by path.
func checkManifest(files []File) error {
	listed := make(map[string]File, len(files))
	for _, f := range files {
		if err := localPath(f.Path); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		for elem := range strings.SplitSeq(f.Path, "/") {
			if strings.EqualFold(elem, ".git") {
				// A .git in a workspace would hand hooks and config to
				// the pipeline's own git commands.
				return fmt.Errorf("restore: %q: %w: contains a .git element", f.Path, ErrUnsafePath)
			}
		}
		if err := f.Validate(); err != nil {
			return fmt.Errorf("restore %w", err)
		}
		if f.IsSymlink() && !path.IsAbs(f.Link) {
			if to := path.Join(path.Dir(f.Path), f.Link); to == ".." || strings.HasPrefix(to, "../") {
				return fmt.Errorf("restore: symlink %s -> %s: %w: leads outside the directory it is restored into", f.Path, f.Link, ErrUnsafePath)
			}
		}
		if _, dup := listed[f.Path]; dup {
			return fmt.Errorf("restore: %s is listed twice", f.Path)
		}
		listed[f.Path] = f
		for dir := path.Dir(f.Path); dir != "."; dir = path.Dir(dir) {
			if p, ok := listed[dir]; ok && !p.IsDir() {
				return fmt.Errorf("restore: %s is inside %s, which is listed as a %s: %w", f.Path, dir, kind(p), ErrUnsafePath)
			}
		}
	}
	return nil
}

// writeTemp writes f under a fresh temporary name beside f.Path and
// returns that name ("" if nothing was created).
func (b *Blobs) writeTemp(r *os.Root, f File, buf []byte) (string, error) {
	if f.IsSymlink() {
		return createTemp(f.Path, func(name string) error { return r.Symlink(f.Link, name) })
	}
	in, err := b.Open(f.Digest)
	if err != nil {
		return "", err
	}
	defer in.Close()
	var out *os.File
	name, err := createTemp(f.Path, func(name string) (err error) {
		out, err = r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		return err
	})
	if err != nil {
		return "", err
	}
	n, err := io.CopyBuffer(out, in, buf)
	if err == nil && n != f.Size {
		err = fmt.Errorf("blob %s has %d bytes where the manifest says %d: %w", f.Digest, n, f.Size, ErrCorrupt)
	}
	if err == nil {
		// Explicitly, because the mode given to OpenFile is cut by the
		// umask and the executable bit must survive.
		err = out.Chmod(f.Mode.Perm())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return name, err
}

// createTemp calls create with names beside p until one does not exist
// yet. Names start with a dot and say who made them, so a leftover from a
// crash explains itself.
func createTemp(p string, create func(name string) error) (string, error) {
	dir, base := path.Split(p)
	// Leave room for the suffix within the usual 255-byte name limit.
	if len(base) > 128 {
		base = base[:128]
	}
	for range 100 {
		name := fmt.Sprintf("%s.%s.velocity-restore-%08x", dir, base, rand.Uint32())
		err := create(name)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("no free temporary name beside %s", p)
}
