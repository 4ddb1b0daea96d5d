package lockfile_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/lockfile"
)

func TestHeldWhileOwnerLivesAndFreeWhenItDies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.lock")
	if held, err := lockfile.Held(path); err != nil || held {
		t.Fatalf("missing file: held=%v err=%v", held, err)
	}
	l, err := lockfile.Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	// flock is per open file description, so a second open in this
	// process sees the lock like another process would.
	if held, err := lockfile.Held(path); err != nil || !held {
		t.Fatalf("while held: held=%v err=%v", held, err)
	}
	if _, err := lockfile.Acquire(path); err == nil {
		t.Fatal("second Acquire succeeded")
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if held, _ := lockfile.Held(path); held {
		t.Fatal("held after Release")
	}

	// A process killed with SIGKILL releases its lock.
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	os.WriteFile(path, nil, 0o644)
	cmd := exec.Command("flock", "--no-fork", path, "sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for held, _ := lockfile.Held(path); !held; held, _ = lockfile.Held(path) {
		if time.Now().After(deadline) {
			t.Fatal("flock(1) never took the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if held, _ := lockfile.Held(path); held {
		t.Fatal("lock still held after its owner was killed")
	}
}

// Lock files live in the data directory, which is the owner's alone.
func TestAcquireCreatesPrivateFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locks", "run.lock")
	l, err := lockfile.Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Error(err)
		} else if perm := fi.Mode().Perm(); perm != want {
			t.Errorf("%s is %v, want %v", p, perm, want)
		}
	}
}
