//go:build !linux

package source

import "os"

// clone would share blocks; only Linux's FICLONE is used.
func (c *copier) clone(out, in *os.File) bool { return false }
