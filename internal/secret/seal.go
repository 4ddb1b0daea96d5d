package secret

import (
	"crypto/rand"
	"errors"
	"fmt"
)

// sealVersion opens every sealed value, so that a later format can be
// told apart.
const sealVersion = 1

// Seal encrypts value under the store key for a caller that keeps it
// elsewhere (a project's webhook secret in the journal), bound to
// purpose: Unseal with another purpose fails, so a sealed value moved to
// another record is refused. The key file is made if there is none yet,
// as by Set.
func (s *Store) Seal(purpose string, value []byte) ([]byte, error) {
	unlock, err := lock(s.dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	f, err := readFile(s.dir)
	if err != nil {
		return nil, err
	}
	ks, err := s.keyset(f, true)
	if err != nil {
		return nil, fmt.Errorf("cannot seal %s: %w", purpose, err)
	}
	out := make([]byte, 1+ks.aead.NonceSize(), 1+ks.aead.NonceSize()+len(value)+ks.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("cannot seal %s: %w", purpose, err)
	}
	return ks.aead.Seal(out, out[1:], value, sealedData(purpose)), nil
}

// Unseal decrypts what Seal returned for purpose. A value sealed under
// another key, for another purpose, or altered wraps ErrWrongKey when
// the key differs from the secrets' and is an error otherwise.
func (s *Store) Unseal(purpose string, sealed []byte) ([]byte, error) {
	f, err := readFile(s.dir)
	if err != nil {
		return nil, err
	}
	ks, err := s.keyset(f, false)
	if err != nil {
		return nil, fmt.Errorf("cannot unseal %s: %w", purpose, err)
	}
	n := ks.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, fmt.Errorf("cannot unseal %s: %w", purpose, errors.New("not a sealed value of this velocity"))
	}
	v, err := ks.aead.Open(nil, sealed[1:1+n], sealed[1+n:], sealedData(purpose))
	if err != nil {
		if f.KeyCheck != "" && f.KeyCheck != ks.check {
			return nil, fmt.Errorf("cannot unseal %s: %w (%s)", purpose, ErrWrongKey, s.keySource())
		}
		return nil, fmt.Errorf("cannot unseal %s: sealed under another key, or altered; set it again", purpose)
	}
	return v, nil
}

// sealedData binds a sealed value to its purpose, apart from the names
// of the store's own secrets.
func sealedData(purpose string) []byte {
	return []byte("velocity sealed v1\x00" + purpose)
}
