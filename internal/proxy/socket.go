package proxy

import (
	"syscall"
	"unsafe"
)

// The data path's own socket calls (inside raw reads: see sendAndRead and
// replyAndRead) are made as raw system calls, which do not tell the
// scheduler that the thread is in a system call. They never block: the
// sockets are non-blocking and the runtime's poller does the waiting. A
// loopback or LAN write, though, runs much of the receiver's TCP
// processing in the sender's call, often longer than the scheduler
// monitor's 20 µs tick; announced as a system call, such a write has the
// monitor hand its P to another thread (waking one) when other goroutines
// are waiting for it, and keeps the monitor polling at that tick. Under
// load that cost more CPU per request than the proxy's own code: a
// system call that cannot block is better left on its P.

// readFD reads without blocking, retrying on EINTR.
func readFD(fd uintptr, p []byte) (int, error) {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
		switch errno {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		}
		return 0, errno
	}
}

// writeFD writes without blocking, retrying on EINTR; it may write less
// than p.
func writeFD(fd uintptr, p []byte) (int, error) {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
		switch errno {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		}
		return 0, errno
	}
}

// peekFD reports, without blocking or consuming anything, whether the
// socket has a byte to read: n is 1 for data, 0 for end of stream; err is
// EAGAIN when there is nothing yet.
func peekFD(fd uintptr, b *[1]byte) (int, error) {
	for {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(b)), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		}
		return 0, errno
	}
}
