package imagebuild

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// extraDockerfile is the name a Dockerfile from outside the context gets
// inside the archive; the engine reads the Dockerfile from the context.
const extraDockerfile = ".velocity.Dockerfile"

// archive holds what writeContext sends.
type archive struct {
	// dir is the context directory.
	dir string
	// ignore is its .dockerignore, nil when it has none.
	ignore *ignore
	// keep are paths (slash-separated, relative to dir) sent even when
	// .dockerignore names them: the Dockerfile and .dockerignore itself,
	// which the engine reads.
	keep map[string]bool
	// dockerfile, when not nil, is a Dockerfile from outside the context,
	// sent as extraDockerfile.
	dockerfile []byte
}

// write sends the context as a tar stream. Symlinks are archived as
// symlinks, whatever they point to, so a link never brings a file from
// outside the context; modes are kept, owners are root, as the docker
// CLI sends them. Sockets, devices and pipes are left out.
func (a *archive) write(w io.Writer) error {
	root, err := os.OpenRoot(a.dir)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	defer root.Close()
	tw := tar.NewWriter(w)
	// The engine tells an archive from a lone Dockerfile by the first
	// 512 bytes: they must hold a plain header, not a PAX one (which a
	// long or non-ASCII name needs), so the stream opens with the root.
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755}); err != nil {
		return err
	}
	err = filepath.WalkDir(a.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(a.dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if a.ignore.excluded(rel) && !a.keep[rel] {
			if d.IsDir() && !a.ignore.mayInclude(rel) {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				return nil
			}
		}
		return a.entry(tw, root, p, rel, d)
	})
	if err != nil {
		return fmt.Errorf("build context %s: %w", a.dir, err)
	}
	if a.dockerfile != nil {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: extraDockerfile, Mode: 0o644, Size: int64(len(a.dockerfile))}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(a.dockerfile); err != nil {
			return err
		}
	}
	return tw.Close()
}

// entry archives one walked path.
func (a *archive) entry(tw *tar.Writer, root *os.Root, p, rel string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	link := ""
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	case info.IsDir(), info.Mode().IsRegular():
	default:
		return nil
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name = rel
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	// Whole seconds, as the docker CLI sends them: sub-second times
	// need PAX records in every header.
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := root.Open(filepath.FromSlash(rel))
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(tw, f)
	if err == nil && n != hdr.Size {
		err = errors.New("changed while it was archived")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	return nil
}

// dockerfileIn says where the Dockerfile at file is relative to the
// context dir: its slash path inside it, or ok=false when it lies outside.
func dockerfileIn(dir, file string) (rel string, ok bool) {
	r, err := filepath.Rel(dir, file)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(r), true
}
