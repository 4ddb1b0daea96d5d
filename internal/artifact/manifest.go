package artifact

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// File is one entry of a manifest: a file, symlink or directory as it was
// in a workspace, with a file's content in the store.
type File struct {
	// Path is slash-separated and relative to the workspace.
	Path string
	// Mode holds the permission bits, plus fs.ModeSymlink for a symlink
	// and fs.ModeDir for a directory. Setuid, setgid and sticky bits are
	// not kept: a cache must not hand out privileges.
	Mode fs.FileMode
	// Size is the content's length; 0 for a symlink or a directory.
	Size int64
	// Digest names the content; empty for a symlink or a directory, which
	// have no blob.
	Digest Digest
	// Link is a symlink's target, exactly as it was. It is stored and
	// hashed as this string, never followed; Restore recreates the link
	// without following it.
	Link string
}

// IsSymlink reports whether f is a symlink.
func (f File) IsSymlink() bool { return f.Mode&fs.ModeSymlink != 0 }

// IsDir reports whether f is a directory.
func (f File) IsDir() bool { return f.Mode.IsDir() }

// Validate reports whether f is an entry Restore can write: a regular file
// with a well-formed digest, a symlink with a target, or a directory. Only
// a regular file has a blob; the others must not name one.
func (f File) Validate() error {
	switch {
	case f.IsSymlink():
		if f.Link == "" {
			return fmt.Errorf("%s: symlink without a target", f.Path)
		}
	case f.IsDir():
	case f.Mode.IsRegular():
		if err := f.Digest.Validate(); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		return nil
	default:
		return fmt.Errorf("%s: mode %v is neither a file, a symlink nor a directory", f.Path, f.Mode)
	}
	if f.Digest != "" || f.Size != 0 {
		return fmt.Errorf("%s: a %s has no content, yet the entry names %q (%d bytes)", f.Path, kind(f), f.Digest, f.Size)
	}
	return nil
}

func kind(f File) string {
	switch {
	case f.IsSymlink():
		return "symlink"
	case f.IsDir():
		return "directory"
	}
	return "file"
}

// Collect stores every file under root matching patterns (see Match) and
// returns their manifest, sorted by path. Directories that patterns match
// are listed too, so that empty ones and their modes are kept, and an
// empty directory counts as a match. A pattern that matches nothing is an
// error wrapping ErrNoMatch.
//
// Symlinks are stored as links (see File.Link), never followed. One that
// leads outside root is refused with an error wrapping ErrUnsafePath (see
// linkChecker): restored anywhere else, it would point at something else.
func (b *Blobs) Collect(root string, patterns []string) ([]File, error) {
	return scan(root, patterns, outputScan(), func() func(*os.File) (Digest, int64, error) {
		return b.putFile
	})
}

// HashFiles is Collect without storing: the manifest of the files under
// root matching patterns. A pattern that matches nothing is an error
// wrapping ErrNoMatch.
func HashFiles(root string, patterns []string) ([]File, error) {
	return scan(root, patterns, outputScan(), hasher)
}

// HashPresent is the manifest of the files (not directories) under root
// that match patterns, where a pattern that matches nothing is fine, for
// cache keys: the key holds the patterns and the files found, so a
// matching file appearing later changes the key anyway. Symlinks are
// hashed by their target string, whatever it points to.
func HashPresent(root string, patterns []string) ([]File, error) {
	return scan(root, patterns, scanOptions{match: matchOptions{allowMissing: true}}, hasher)
}

// scanOptions say what a manifest is for.
type scanOptions struct {
	match matchOptions
	// checkLinks refuses symlinks that lead outside the root (outputs,
	// which are restored elsewhere).
	checkLinks bool
}

// outputScan describes outputs: every match is required, directories are
// entries, and links must stay restorable.
func outputScan() scanOptions {
	return scanOptions{match: matchOptions{dirs: true}, checkLinks: true}
}

// hasher makes a worker's hash function for HashFiles and HashPresent.
func hasher() func(*os.File) (Digest, int64, error) {
	h := sha256.New()
	// Inputs are mostly small source files: a modest buffer per worker.
	buf := make([]byte, 64<<10)
	return func(r *os.File) (Digest, int64, error) {
		h.Reset()
		n, err := io.CopyBuffer(h, struct{ io.Reader }{r}, buf)
		return sumDigest(h), n, err
	}
}

// scan matches patterns under root and describes each entry, passing the
// content of regular files to what newStore returns (once per worker).
func scan(root string, patterns []string, opt scanOptions, newStore func() func(*os.File) (Digest, int64, error)) ([]File, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	paths, err := match(r, patterns, opt.match)
	if err != nil {
		return nil, err
	}
	var links *linkChecker
	if opt.checkLinks {
		links = newLinkChecker(r, root)
	}
	files := make([]File, len(paths))
	err = forEach(len(paths), func() func(int) error {
		store := newStore()
		return func(i int) error {
			f, err := describe(r, paths[i], store)
			if err == nil && links != nil && f.IsSymlink() {
				err = links.check(f.Path, f.Link)
			}
			files[i] = f
			return err
		}
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

func describe(r *os.Root, name string, store func(*os.File) (Digest, int64, error)) (File, error) {
	fi, err := r.Lstat(name)
	if err != nil {
		return File{}, err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := r.Readlink(name)
		if err != nil {
			return File{}, err
		}
		// Symlink permissions mean nothing and differ between systems;
		// a fixed mode keeps TreeDigest the same everywhere.
		return File{Path: name, Mode: fs.ModeSymlink | 0o777, Link: target}, nil
	case fi.IsDir():
		return File{Path: name, Mode: fs.ModeDir | fi.Mode().Perm()}, nil
	}
	f, err := r.Open(name)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	// Check what was opened, not what was listed: the file may have been
	// replaced in between.
	if fi, err = f.Stat(); err != nil {
		return File{}, err
	}
	if !fi.Mode().IsRegular() {
		return File{}, fmt.Errorf("%s: not a regular file", name)
	}
	d, n, err := store(f)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", name, err)
	}
	return File{Path: name, Mode: fi.Mode().Perm(), Size: n, Digest: d}, nil
}

// treeVersion starts every TreeDigest input, so that changing the encoding
// below changes every digest instead of colliding with old ones.
const treeVersion = "velocity-tree-v1\n"

// TreeDigest is one digest for a whole manifest: its paths, modes
// (directories and symlinks included), content digests and link targets, in path order whatever the order of files.
// Fields are length-prefixed so that no two manifests encode alike.
func TreeDigest(files []File) Digest {
	sorted := slices.SortedFunc(slices.Values(files), func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	h := sha256.New()
	io.WriteString(h, treeVersion)
	var buf [binary.MaxVarintLen64]byte
	field := func(h hash.Hash, s string) {
		h.Write(binary.AppendUvarint(buf[:0], uint64(len(s))))
		io.WriteString(h, s)
	}
	for _, f := range sorted {
		field(h, f.Path)
		h.Write(binary.BigEndian.AppendUint32(buf[:0], uint32(f.Mode)))
		field(h, string(f.Digest))
		field(h, f.Link)
	}
	return sumDigest(h)
}
