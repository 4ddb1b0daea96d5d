package secret

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/velocity-ci/velocity/internal/lockfile"
)

// Names of the files a store keeps in its directory.
const (
	dataName = "secrets.json"
	keyName  = "secret.key"
	lockName = "secrets.lock"
)

// fileVersion is the format of secrets.json this code writes and reads.
const fileVersion = 1

// file is the content of secrets.json.
type file struct {
	Version int `json:"version"`
	// KeyCheck is derived from the key the secrets were sealed with. It
	// lets a failed decryption say "wrong key" rather than "damaged
	// file", and stops a Set under another key from mixing two keys in
	// one file. Empty when the file holds no secrets.
	KeyCheck string            `json:"key_check,omitempty"`
	Secrets  map[string]sealed `json:"secrets"`
}

// sealed is one secret as AES-GCM left it; encoding/json writes the
// byte slices as base64.
type sealed struct {
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// readFile reads secrets.json from dir. A missing file is an empty store.
func readFile(dir string) (*file, error) {
	path := filepath.Join(dir, dataName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &file{Version: fileVersion, Secrets: map[string]sealed{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("read secrets: %s is not a velocity secrets file: %w", path, err)
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("read secrets: %s has format version %d; this velocity reads version %d", path, f.Version, fileVersion)
	}
	if f.Secrets == nil {
		f.Secrets = map[string]sealed{}
	}
	return &f, nil
}

// writeFile replaces secrets.json in dir. The caller holds the lock.
func writeFile(dir string, f *file) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("write secrets: %w", err)
	}
	if err := writeAtomic(dir, dataName, append(data, '\n')); err != nil {
		return fmt.Errorf("write secrets: %w", err)
	}
	return nil
}

// writeAtomic writes data to dir/name with mode 0600 through a temporary
// file and a rename, so that a reader (or a crash) sees either the old
// content or the new, never a mix, and the file is never readable by
// others, not even for a moment.
func writeAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp") // CreateTemp uses mode 0600
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	// Make the rename itself durable; without this a crash could bring
	// back the old file after Set reported success.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lock blocks until this process holds the store's write lock, and
// returns the function that releases it; the kernel releases it too if
// the process dies.
func lock(dir string) (func(), error) {
	l, err := lockfile.Wait(filepath.Join(dir, lockName), 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock secrets: %w", err)
	}
	return func() { l.Close() }, nil
}
