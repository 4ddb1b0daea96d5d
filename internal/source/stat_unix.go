//go:build linux || darwin || freebsd || netbsd || openbsd

package source

import (
	"io/fs"
	"syscall"
)

// stateOf is fi's stat data for the file index.
func stateOf(fi fs.FileInfo) fileState {
	s := fileState{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: uint32(fi.Mode())}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = uint64(st.Ino)
		s.ctime = ctimeOf(st)
	}
	return s
}
