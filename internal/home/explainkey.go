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
func (h *Home) explainKey() ([]byte, error) { return h.key("explain") }

// webKey signs the web UI's session cookies and CSRF tokens, so that
// sessions outlive a restart of the server.
func (h *Home) webKey() ([]byte, error) { return h.key("web") }

// key is the data directory's 32-byte key DATA/NAME.key, made on first
// use.
func (h *Home) key(name string) ([]byte, error) {
	p := filepath.Join(h.Dir, name+".key")
	key, err := os.ReadFile(p)
	if err == nil && len(key) == 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s key: %w", name, err)
	}
	key = make([]byte, 32)
	rand.Read(key)
	// Written aside and renamed, so that two first runs at once end with
	// one key both read back.
	tmp, err := os.CreateTemp(h.Dir, name+".key.*")
	if err != nil {
		return nil, fmt.Errorf("%s key: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("%s key: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("%s key: %w", name, err)
	}
	if err := os.Link(tmp.Name(), p); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s key: %w", name, err)
	}
	return os.ReadFile(p)
}
