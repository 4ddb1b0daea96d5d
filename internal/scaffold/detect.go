package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Detect reports the kind of project in dir, following the precedence
// documented on the package. It fails only when dir cannot be read; a
// directory without any marker is Generic.
func Detect(dir string) (Kind, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("detect project kind: %w", err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("detect project kind: %s is not a directory", dir)
	}
	if ok, err := anyExists(dir, "go.mod"); err != nil || ok {
		return Go, err
	}
	if ok, err := anyExists(dir, "package.json"); err != nil || ok {
		return Node, err
	}
	if ok, err := anyExists(dir, pythonMarkers()...); err != nil || ok {
		return Python, err
	}
	if ok, err := anyExists(dir, "Cargo.toml"); err != nil || ok {
		return Rust, err
	}
	if ok, err := anyExists(dir, javaMarkers()...); err != nil || ok {
		return Java, err
	}
	mk, err := readMakefile(dir)
	if err != nil {
		return "", err
	}
	if len(mk.known()) > 0 {
		return Make, nil
	}
	if ok, err := anyExists(dir, testScripts()...); err != nil || ok {
		return Script, err
	}
	return Generic, nil
}

// anyExists reports whether dir holds a regular file with one of names.
// Errors other than absence are returned so that an unreadable marker
// doesn't silently make a project look like a different kind.
func anyExists(dir string, names ...string) (bool, error) {
	for _, name := range names {
		info, err := os.Stat(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("detect project kind: %w", err)
		}
		if info.Mode().IsRegular() {
			return true, nil
		}
	}
	return false, nil
}

// firstExisting returns the first of names that is a regular file in dir,
// or "" when none is.
func firstExisting(dir string, names ...string) (string, error) {
	for _, name := range names {
		ok, err := anyExists(dir, name)
		if err != nil {
			return "", err
		}
		if ok {
			return name, nil
		}
	}
	return "", nil
}
