package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/velocity-ci/velocity/internal/fault"
)

// MaxValueSize is the largest value Set accepts: room for a private key or
// a kubeconfig, but not a file that should be an artifact instead.
const MaxValueSize = 64 << 10

// ErrNotFound is wrapped by Get, Fingerprint and Remove when no secret
// has the name. It is of kind fault.NotFound, in words of its own.
var ErrNotFound = fault.New(fault.NotFound, "no such secret")

// ErrWrongKey is wrapped when the store key is not the one the secrets
// were sealed with, typically because VELOCITY_SECRET_KEY changed.
var ErrWrongKey = errors.New("the key is not the one it was stored with")

// Store is the secret store of one data directory. Its methods are safe
// for concurrent use, also by several processes sharing the directory.
type Store struct {
	dir    string
	envKey bool // the key came from EnvKey, not from the key file

	mu   sync.Mutex // guards keys
	keys *keyset    // nil until the key file is first needed
}

// Open opens the store in dir, creating dir if needed. The key is envKey
// when it is not empty (the value of VELOCITY_SECRET_KEY; see EnvKey for
// the accepted forms), else the key file dir/secret.key.
//
// The key file is read when a secret is first read or written, and created
// by the first Set, so that opening the store costs nothing and cannot fail
// for a run that uses no secrets.
func Open(dir string, envKey string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open secrets: %w", err)
	}
	s := &Store{dir: dir}
	if envKey != "" {
		key, err := parseKey(envKey)
		if err != nil {
			return nil, err
		}
		if s.keys, err = newKeyset(key); err != nil {
			return nil, err
		}
		s.envKey = true
	}
	return s, nil
}

// Set stores value under name, replacing any value it had. The name must
// be usable as an environment variable name ([A-Za-z_][A-Za-z0-9_]*); the
// value must be 1 to MaxValueSize bytes. When the store already holds
// secrets sealed with another key, Set fails with ErrWrongKey rather than
// leave a file that no single key can open.
func (s *Store) Set(name string, value []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	switch {
	case len(value) == 0:
		return fmt.Errorf("secret %s: the value is empty", name)
	case len(value) > MaxValueSize:
		return fmt.Errorf("secret %s: the value is %d bytes; at most %d (64 KiB) are allowed", name, len(value), MaxValueSize)
	}
	unlock, err := lock(s.dir)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := readFile(s.dir)
	if err != nil {
		return err
	}
	ks, err := s.keyset(f, true)
	if err != nil {
		return fmt.Errorf("cannot store secret %s: %w", name, err)
	}
	if len(f.Secrets) > 0 && f.KeyCheck != ks.check {
		return fmt.Errorf("cannot store secret %s in %s: %w (%s); use the key the secrets there were stored with, or remove them first",
			name, s.path(), ErrWrongKey, s.keySource())
	}
	nonce := make([]byte, ks.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("cannot store secret %s: %w", name, err)
	}
	f.Secrets[name] = sealed{Nonce: nonce, Ciphertext: ks.aead.Seal(nil, nonce, value, additionalData(name))}
	f.KeyCheck = ks.check
	return writeFile(s.dir, f)
}

// Get returns the value of the secret name. It wraps ErrNotFound when
// there is none, and ErrWrongKey when the store key cannot open it.
func (s *Store) Get(name string) ([]byte, error) {
	v, _, err := s.open(name)
	return v, err
}

// Fingerprint returns a hex HMAC-SHA256 of the secret's value, under a key
// derived from the store key: it changes when the value changes, so a
// cache key can include it, but it cannot be checked against guesses of
// the value by anyone without the key, as a plain hash could.
func (s *Store) Fingerprint(name string) (string, error) {
	v, ks, err := s.open(name)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, ks.fingerprint)
	mac.Write(v)
	clear(v)
	return hex.EncodeToString(mac.Sum(nil)), nil
}

// List returns the names of the secrets, sorted. It needs no key.
func (s *Store) List() ([]string, error) {
	f, err := readFile(s.dir)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(f.Secrets)), nil
}

// Remove deletes the secret name, or wraps ErrNotFound. It needs no key,
// so secrets whose key is lost can still be cleared out; once the last
// one is gone the store takes whatever key the next Set brings.
func (s *Store) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	unlock, err := lock(s.dir)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := readFile(s.dir)
	if err != nil {
		return err
	}
	if _, ok := f.Secrets[name]; !ok {
		return fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	delete(f.Secrets, name)
	if len(f.Secrets) == 0 {
		f.KeyCheck = ""
	}
	return writeFile(s.dir, f)
}

// open decrypts the secret name. Readers take no lock: writes replace the
// file by rename, so a read sees one whole version of it.
func (s *Store) open(name string) ([]byte, *keyset, error) {
	if err := checkName(name); err != nil {
		return nil, nil, err
	}
	f, err := readFile(s.dir)
	if err != nil {
		return nil, nil, err
	}
	sl, ok := f.Secrets[name]
	if !ok {
		return nil, nil, fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	ks, err := s.keyset(f, false)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot decrypt secret %s: %w", name, err)
	}
	// GCM panics on a nonce of the wrong length, which only a damaged
	// file can hold.
	if len(sl.Nonce) == ks.aead.NonceSize() {
		if v, err := ks.aead.Open(nil, sl.Nonce, sl.Ciphertext, additionalData(name)); err == nil {
			return v, ks, nil
		}
	}
	// Authentication failed: the check value tells a wrong key from a
	// file that was altered, including a ciphertext moved from another
	// name.
	if f.KeyCheck != ks.check {
		return nil, nil, fmt.Errorf("cannot decrypt secret %s: %w (%s)", name, ErrWrongKey, s.keySource())
	}
	return nil, nil, fmt.Errorf("cannot decrypt secret %s: its entry in %s was altered or damaged (the key is the right one); set the secret again", name, s.path())
}

// keyset returns the store's keys, reading the key file the first time.
// With create, a missing key file is made; only Set asks for that, while
// holding the lock. A missing key file is never replaced while the file
// holds secrets: a new key could not open them, and the error must say
// that the key is missing, not that it is wrong.
func (s *Store) keyset(f *file, create bool) (*keyset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys != nil {
		return s.keys, nil
	}
	path := filepath.Join(s.dir, keyName)
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		if len(f.Secrets) > 0 {
			return nil, fmt.Errorf("no key: %s is not set and %s is missing, but %s holds secrets; set %s to the key they were stored with, or restore the key file",
				EnvKey, path, s.path(), EnvKey)
		}
		if create {
			key, err = createKey(s.dir)
		}
	}
	if err != nil {
		return nil, err
	}
	ks, err := newKeyset(key)
	if err != nil {
		return nil, err
	}
	s.keys = ks
	return ks, nil
}

// keySource says where the key came from, for errors about a wrong key.
func (s *Store) keySource() string {
	if s.envKey {
		return "the key comes from " + EnvKey
	}
	return "the key comes from " + filepath.Join(s.dir, keyName)
}

func (s *Store) path() string { return filepath.Join(s.dir, dataName) }

// additionalData binds a ciphertext to its secret's name, so that a
// ciphertext copied to another name in the file fails to decrypt instead
// of handing one secret's value to whoever asks for the other.
func additionalData(name string) []byte {
	return []byte("velocity secret v1\x00" + name)
}

// checkName accepts names that can become environment variables, which
// is how actions receive secrets.
func checkName(name string) error {
	ok := name != ""
	for i := 0; i < len(name) && ok; i++ {
		c := name[i]
		ok = c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9'
	}
	if !ok {
		return fmt.Errorf("invalid secret name %q: use letters, digits and underscores, not starting with a digit (the name becomes an environment variable)", name)
	}
	return nil
}
