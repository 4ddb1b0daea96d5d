package home

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// explainKey is the data directory's key for the hashes velocity explain
// keeps of host variables and secrets, made on first use. It lives beside
// the journal but not in it, so that a copy of the journal alone does not
// let anyone test guesses of a value.
func (h *Home) explainKey() ([]byte, error) {
	p := filepath.Join(h.Dir, "explain.key")
	key, err := os.ReadFile(p)
	if err == nil && len(key) == 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("explain key: %w", err)
	}
	key = make([]byte, 32)
	rand.Read(key)
	// Written aside and renamed, so that two first runs at once end with
	// one key both read back.
	tmp, err := os.CreateTemp(h.Dir, "explain.key.*")
	if err != nil {
		return nil, fmt.Errorf("explain key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("explain key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("explain key: %w", err)
	}
	if err := os.Link(tmp.Name(), p); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("explain key: %w", err)
	}
	return os.ReadFile(p)
}
