package executor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// This file places a step's FilesIn and collects its FilesOut for the
// executors whose steps see the host's workspace (the host itself, or a
// container it is bind-mounted into).

// PlaceFilesIn copies each of step's FilesIn from its Host path to its
// Path below step.Dir.
func PlaceFilesIn(step Step) error {
	for _, f := range step.FilesIn {
		if err := copyFile(f.Host, filepath.Join(step.Dir, f.Path)); err != nil {
			return fmt.Errorf("%s: file in %s: %w", step.Name, f.Path, err)
		}
	}
	return nil
}

// CollectFilesOut copies each of step's FilesOut from below step.Dir to
// its Host path, and lists in res.Missing those the step did not leave.
func CollectFilesOut(step Step, res *Result) error {
	for _, f := range step.FilesOut {
		err := copyFile(filepath.Join(step.Dir, f.Path), f.Host)
		switch {
		case errors.Is(err, os.ErrNotExist):
			res.Missing = append(res.Missing, f.Path)
		case err != nil:
			return fmt.Errorf("%s: file out %s: %w", step.Name, f.Path, err)
		}
	}
	return nil
}

// copyFile copies a regular file with its mode, through a temporary file
// renamed into place, so a reader never sees half of it.
func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", from)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), ".velocity-file-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), to)
}
