package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/proc"
)

func TestLimitsFallback(t *testing.T) {
	ok, note := LimitsSupported()
	if ok {
		t.Skipf("cgroup v2 is usable here: %s", note)
	}
	if !strings.Contains(note, "not enforced") || !strings.Contains(note, "/sys/fs/cgroup") {
		t.Errorf("note %q", note)
	}
	t.Log(note)

	l := newLocal(t, Config{})
	if ok, lnote := l.Limits(); ok || lnote != note {
		t.Errorf("Limits() = %v, %q; want false, %q", ok, lnote, note)
	}
	s := serverSpec(t, `exec "$SERVER"`)
	s.Memory, s.CPU = 64<<20, 0.5
	inst := start(t, l, s)
	waitServing(t, inst)
	if !hasLine(inst.LastLines(10), "velocity: "+note) {
		t.Errorf("the instance log does not say limits are off: %q", inst.LastLines(10))
	}
	stop(t, inst)
}

func TestProbeNonCgroup(t *testing.T) {
	ok, note := probeCgroup2(t.TempDir())
	if ok || !strings.Contains(note, "cgroup v2 not available here") {
		t.Errorf("probe of a plain directory: %v, %q", ok, note)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCgroupFiles(t *testing.T) {
	root := t.TempDir()
	c := &cgroups{root: root}
	if err := c.prepare(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{root, filepath.Join(root, "velocity")} {
		if got := readFile(t, filepath.Join(dir, "cgroup.subtree_control")); got != "+memory +cpu" {
			t.Errorf("%s/cgroup.subtree_control = %q", dir, got)
		}
	}
	g, err := c.create("web-prod-1", 256<<20, 1.5)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "velocity", "web-prod-1")
	if got := readFile(t, filepath.Join(dir, "memory.max")); got != "268435456" {
		t.Errorf("memory.max = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "cpu.max")); got != "150000 100000" {
		t.Errorf("cpu.max = %q", got)
	}
	// An instance's process joins its group as it starts.
	p, err := proc.Start(context.Background(), proc.Spec{Path: "true", Group: true, Cgroup: g.dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "cgroup.procs")); got != strconv.Itoa(p.Pid()) {
		t.Errorf("cgroup.procs = %q, want %d", got, p.Pid())
	}

	// Only the limits asked for are written, and tiny CPU shares are
	// raised to the kernel's minimum quota.
	if _, err := c.create("cpu-only", 0, 0.001); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(root, "velocity", "cpu-only")
	if got := readFile(t, filepath.Join(dir, "cpu.max")); got != "1000 100000" {
		t.Errorf("cpu.max = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "memory.max")); !os.IsNotExist(err) {
		t.Errorf("memory.max written without a memory limit: %v", err)
	}
	// An empty group (a real cgroup, seen from here) is removed.
	empty := &cgroup{dir: filepath.Join(root, "velocity", "empty")}
	if err := os.Mkdir(empty.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := empty.remove(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(empty.dir); !os.IsNotExist(err) {
		t.Errorf("group not removed: %v", err)
	}
}

func TestStartPutsPidInCgroup(t *testing.T) {
	root := t.TempDir()
	l := newLocal(t, Config{cgroupRoot: root})
	if ok, note := l.Limits(); !ok {
		t.Fatalf("limits off with a cgroup root: %s", note)
	}
	s := serverSpec(t, `exec "$SERVER"`)
	s.Memory = 128 << 20
	inst := start(t, l, s)
	waitServing(t, inst)
	dir := filepath.Join(root, "velocity", inst.ID())
	if got := readFile(t, filepath.Join(dir, "cgroup.procs")); got != strconv.Itoa(pidOf(inst)) {
		t.Errorf("cgroup.procs = %q, pid %d", got, pidOf(inst))
	}
	if got := readFile(t, filepath.Join(dir, "memory.max")); got != "134217728" {
		t.Errorf("memory.max = %q", got)
	}
	// A plain directory with files cannot be rmdir'ed the way a real
	// cgroup can; Stop only warns about it.
	stop(t, inst)
}
