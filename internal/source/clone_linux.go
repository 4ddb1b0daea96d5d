package source

import (
	"os"

	"golang.org/x/sys/unix"
)

// clone makes out share in's blocks (FICLONE: btrfs, XFS, bcachefs), so a
// first copy of a large project writes next to nothing. Where the file
// system cannot, it says so once and copying goes on as usual.
func (c *copier) clone(out, in *os.File) bool {
	if c.noClone.Load() {
		return false
	}
	if err := unix.IoctlFileClone(int(out.Fd()), int(in.Fd())); err != nil {
		c.noClone.Store(true)
		return false
	}
	return true
}
