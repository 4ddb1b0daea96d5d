package artifact_test

import (
	"errors"
	"os"
	"testing"
)

// chmodUnreadable makes dir unreadable, or says why it cannot (root reads
// everything).
func chmodUnreadable(t *testing.T, dir string) error {
	if os.Geteuid() == 0 {
		return errors.New("running as root: permissions are not enforced")
	}
	if err := os.Chmod(dir, 0); err != nil {
		return err
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	return nil
}
