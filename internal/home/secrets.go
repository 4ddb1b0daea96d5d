package home

import (
	"errors"
	"fmt"

	"github.com/velocity-ci/velocity/internal/secret"
)

// secrets opens the secret store of the data directory, as runs and
// deploys read it.
func (h *Home) secrets() (secretSource, error) {
	st, err := secret.Open(h.Dir, h.cfg.Getenv("VELOCITY_SECRET_KEY"))
	if err != nil {
		return secretSource{}, err
	}
	return secretSource{st}, nil
}

// secretSource adapts the store to what runs and deploys ask for, with an
// error that says how to fix a missing secret.
type secretSource struct{ st *secret.Store }

func (s secretSource) Get(name string) ([]byte, error) {
	v, err := s.st.Get(name)
	if errors.Is(err, secret.ErrNotFound) {
		return nil, fmt.Errorf("not set; set it with: velocity secret set %s", name)
	}
	return v, err
}

func (s secretSource) Fingerprint(name string) (string, error) {
	fp, err := s.st.Fingerprint(name)
	if errors.Is(err, secret.ErrNotFound) {
		return "", fmt.Errorf("not set; set it with: velocity secret set %s", name)
	}
	return fp, err
}
