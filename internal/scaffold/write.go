package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileName is the file Write creates in the project directory. It repeats
// spec.FileName rather than importing spec so that scaffold doesn't pull
// in the parser it never uses.
const FileName = "velocity.yml"

// ExistsError is returned by Write when the project already has a
// velocity.yml and force is false. It matches fs.ErrExist with errors.Is.
type ExistsError struct {
	Path string
}

func (e *ExistsError) Error() string {
	return FileName + " already exists; use --force to overwrite"
}

// Is makes errors.Is(err, fs.ErrExist) true, so callers need not know the type.
func (e *ExistsError) Is(target error) bool { return target == fs.ErrExist }

// Write generates velocity.yml for dir and writes it there, returning the
// kind detected and the path written. Without force it refuses to replace
// an existing file, which is likely hand-edited.
func Write(dir string, force bool) (Kind, string, error) {
	kind, data, err := Generate(dir)
	if err != nil {
		return "", "", err
	}
	path := filepath.Join(dir, FileName)
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !force {
		// O_EXCL makes the existence check and the creation one step, so a
		// file appearing in between is not clobbered.
		flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return kind, "", &ExistsError{Path: path}
	}
	if err != nil {
		return kind, "", fmt.Errorf("write %s: %w", FileName, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return kind, "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return kind, "", fmt.Errorf("write %s: %w", path, err)
	}
	return kind, path, nil
}
