package source

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/lockfile"
)

func TestWorkspaceSlots(t *testing.T) {
	ws := Workspaces{Dir: filepath.Join(t.TempDir(), "workspaces"), MaxSlots: 3}
	proj := "/home/me/src/hello"
	first, err := ws.Claim(proj)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(ws.Dir, SlotName(proj))
	if first.Dir != base || !strings.HasPrefix(filepath.Base(first.Dir), "hello-") {
		t.Errorf("first workspace %s, want %s (named after the project)", first.Dir, base)
	}
	// A run going on at the same time gets the next slot, and the one
	// after that the third; the limit is then reached.
	second, err := ws.Claim(proj)
	if err != nil {
		t.Fatal(err)
	}
	third, err := ws.Claim(proj)
	if err != nil {
		t.Fatal(err)
	}
	if second.Dir != base+"-2" || third.Dir != base+"-3" {
		t.Errorf("concurrent workspaces %s, %s, want %s-2, -3", second.Dir, third.Dir, base)
	}
	_, err = ws.Claim(proj)
	if !errors.Is(err, ErrNoFreeSlot) || !strings.Contains(err.Error(), "MaxSlots = 3") {
		t.Errorf("fourth Claim error = %v, want ErrNoFreeSlot naming the limit", err)
	}
	// Another project is not affected.
	other, err := ws.Claim("/home/me/src/other/hello")
	if err != nil {
		t.Fatal(err)
	}
	if other.Dir == base || !strings.HasPrefix(filepath.Base(other.Dir), "hello-") {
		t.Errorf("a project of the same name got %s", other.Dir)
	}
	// A released slot is the next run's, the lowest first.
	second.Release()
	again, err := ws.Claim(proj)
	if err != nil {
		t.Fatal(err)
	}
	if again.Dir != base+"-2" {
		t.Errorf("after release got %s, want %s-2", again.Dir, base)
	}
	first.Release()
	if again, err = ws.Claim(proj); err != nil || again.Dir != base {
		t.Errorf("after release got %v, %v, want %s", again, err, base)
	}
}

// A run killed with SIGKILL holds its workspace no more: the kernel drops
// its lock. The holder is this test binary, run again as a helper with no
// children of its own that could keep the lock.
func TestWorkspaceOfKilledRunIsFree(t *testing.T) {
	ws := Workspaces{Dir: filepath.Join(t.TempDir(), "workspaces")}
	proj := "/srv/project"
	if err := os.MkdirAll(ws.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	holder := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	holder.Env = append(os.Environ(), "SOURCE_TEST_HOLD_LOCK="+filepath.Join(ws.Dir, SlotName(proj)+".lock"))
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "held\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	w, err := ws.Claim(proj)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(w.Dir, "-2") {
		t.Errorf("while the first slot is held got %s, want the second", w.Dir)
	}
	w.Release()
	holder.Process.Signal(os.Kill)
	holder.Wait()
	w, err = ws.Claim(proj)
	if err != nil {
		t.Fatal(err)
	}
	if w.Dir != filepath.Join(ws.Dir, SlotName(proj)) {
		t.Errorf("after the holder was killed got %s, want the first slot", w.Dir)
	}
}

// TestHelperHoldLock is the process TestWorkspaceOfKilledRunIsFree kills.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("SOURCE_TEST_HOLD_LOCK")
	if path == "" {
		t.Skip("helper process only")
	}
	if _, err := lockfile.TryHold(path, 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Println("held")
	time.Sleep(time.Minute)
}

// Clean removes idle workspaces, and old per-run ones without a lock file,
// but never one a run holds.
func TestCleanSkipsWorkspacesInUse(t *testing.T) {
	ws := Workspaces{Dir: filepath.Join(t.TempDir(), "workspaces")}
	proj := "/src/app"
	held, err := ws.Claim(proj)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	idle, err := ws.Claim(proj)
	if err != nil {
		t.Fatal(err)
	}
	idle.Release()
	old := filepath.Join(ws.Dir, "0123456789abcdef")
	for _, f := range []string{filepath.Join(held.Dir, "f"), filepath.Join(idle.Dir, "sub", "f"), filepath.Join(old, "f")} {
		write(t, filepath.Dir(f), filepath.Base(f), "x", 0o644)
	}
	removed, busy, err := ws.Clean()
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || len(busy) != 1 || busy[0] != held.Dir {
		t.Errorf("Clean removed %v, kept %v; want %s and %s removed, %s kept", removed, busy, idle.Dir, old, held.Dir)
	}
	for dir, want := range map[string]bool{held.Dir: true, idle.Dir: false, old: false} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", dir, err == nil, want)
		}
	}
}
