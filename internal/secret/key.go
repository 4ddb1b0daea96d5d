package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// EnvKey is the environment variable that holds the store key when the key
// is not to live beside the secrets (a CI server, a shared disk): 32 bytes
// as 64 hex characters or as base64, standard or URL alphabet, padded or
// not, such as `openssl rand -hex 32` prints.
const EnvKey = "VELOCITY_SECRET_KEY"

// keySize is the length of a store key: 256 bits, for AES-256.
const keySize = 32

// keyset is what a store key is used for. Each use gets its own key,
// derived with HKDF, so that no two uses (sealing, fingerprints, the
// check value written to the file) can ever be played against each other.
type keyset struct {
	aead        cipher.AEAD
	fingerprint []byte
	check       string
}

func newKeyset(key []byte) (*keyset, error) {
	derive := func(purpose string, n int) ([]byte, error) {
		return hkdf.Key(sha256.New, key, nil, "velocity secret "+purpose+" v1", n)
	}
	enc, err := derive("encryption", 32)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	fp, err := derive("fingerprint", 32)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	check, err := derive("key check", 16)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	return &keyset{aead: aead, fingerprint: fp, check: hex.EncodeToString(check)}, nil
}

// parseKey decodes the key given in EnvKey. It accepts what the usual
// tools print (`openssl rand -hex 32`, `openssl rand -base64 32`, Go's
// base64.URLEncoding), with or without padding and surrounding white space.
// The error never repeats the value: it is meant to be a secret.
func parseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*keySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding,
	} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == keySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%s is not a key (it is %d characters long): it must be 32 bytes written as 64 hex characters or as base64 (standard or URL alphabet); make one with: openssl rand -hex 32", EnvKey, len(s))
}

// readKey reads the key file at path. It refuses a file that other users
// could read or change: whoever reads it can read every secret, and
// whoever replaces it can make velocity seal new secrets under their key.
func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the file checked is the file read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secret key %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("refusing to use secret key %s: its mode %04o lets other users read or change it; run: chmod 600 %s", path, perm, path)
	}
	if fi.Size() != keySize {
		return nil, fmt.Errorf("secret key %s holds %d bytes, not the %d of a velocity key; restore it, or set %s", path, fi.Size(), keySize, EnvKey)
	}
	key := make([]byte, keySize)
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	return key, nil
}

// createKey makes a new random key file in dir. The caller holds the
// store's lock, so two processes setting their first secret at once
// cannot each make a key and leave one's secrets unreadable.
func createKey(dir string) ([]byte, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create secret key: %w", err)
	}
	if err := writeAtomic(dir, keyName, key); err != nil {
		return nil, fmt.Errorf("create secret key %s: %w", filepath.Join(dir, keyName), err)
	}
	return key, nil
}
