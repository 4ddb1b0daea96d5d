// Package lockfile tells whether the process that owns a run is still
// alive: the owner holds an flock on a file for as long as it lives, and
// the kernel releases it when the process dies, however it dies. Unlike a
// recorded pid this cannot be fooled by pid reuse.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Lock is a held lock.
type Lock struct {
	f *os.File
}

// Acquire creates path and locks it exclusively, failing at once if
// another process holds it.
func Acquire(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Wait blocks until it holds the lock at path (created if missing, with
// mode perm). Unlike Acquire's locks, the file is meant to stay: Close
// releases the lock and keeps it. flock belongs to the open file
// description, so two goroutines of one process exclude each other just
// as two processes do.
func Wait(path string, perm os.FileMode) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// ErrHeld is wrapped by the error of TryHold when another open file
// description holds the lock.
var ErrHeld = errors.New("held by another process")

// TryHold is Wait without the waiting: it takes the lock at path (created
// if missing, with mode perm) at once or fails with ErrHeld. The file is
// meant to stay; Close releases the lock and keeps it, so no other process
// can lock a file that is being removed.
func TryHold(path string, perm os.FileMode) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, ErrHeld)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Close releases a lock taken with Wait or TryHold, leaving the file in
// place.
func (l *Lock) Close() error { return l.f.Close() }

// Note writes text into the locked file, replacing what it held: who
// holds the lock, for whoever finds the file after the holder died (the
// lock is gone then, the text stays).
func (l *Lock) Note(text string) error {
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("lock %s: %w", l.f.Name(), err)
	}
	if _, err := l.f.WriteAt([]byte(text), 0); err != nil {
		return fmt.Errorf("lock %s: %w", l.f.Name(), err)
	}
	return nil
}

// Release unlocks and removes the file.
func (l *Lock) Release() error {
	name := l.f.Name()
	err := os.Remove(name)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Held reports whether some process holds the lock at path. A missing
// file is not held.
func Held(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check lock %s: %w", path, err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("check lock %s: %w", path, err)
	}
	// We got it, so nobody held it; dropping our descriptor releases it.
	return false, nil
}
