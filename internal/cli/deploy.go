package cli

import (
	"errors"

	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/store"
)

// userError makes an error of the releases service a usage error (exit
// 2) when the user named something wrong or missing.
func userError(err error) error {
	// A client's errors answer to the same classes (server.Error.Is).
	if errors.Is(err, releases.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
		return usageError("%v", err)
	}
	return err
}
