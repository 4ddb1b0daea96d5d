package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	defaultCgroupRoot = "/sys/fs/cgroup"
	// cgroupParent groups Velocity's instances, so that an administrator
	// finds them in one place and a crashed Velocity's leftovers are easy
	// to spot.
	cgroupParent = "velocity"
	// cpuPeriod is the cpu.max period in microseconds (the kernel's
	// default); the quota is CPU × period.
	cpuPeriod = 100000
	// minCPUQuota is the smallest quota the kernel accepts.
	minCPUQuota = 1000
)

// LimitsSupported says whether Spec.Memory and Spec.CPU are enforced on
// this machine, with a sentence for the user. Callers print it once rather
// than failing: a service runs fine without limits, it is only less
// contained. The check is read-only; NewLocal may still find the hierarchy
// unusable, which (*Local).Limits reports.
func LimitsSupported() (bool, string) { return probeCgroup2(defaultCgroupRoot) }

func probeCgroup2(root string) (bool, string) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return false, fmt.Sprintf("cgroup v2 not available here (%s: %v): memory and CPU limits are not enforced", root, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return false, fmt.Sprintf("cgroup v2 not available here (%s is %s): memory and CPU limits are not enforced", root, fsName(int64(st.Type)))
	}
	if err := unix.Access(root, unix.W_OK); err != nil {
		return false, fmt.Sprintf("cgroup v2 at %s is not writable by this user (%v): memory and CPU limits are not enforced", root, err)
	}
	b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return false, fmt.Sprintf("cgroup v2 at %s has no readable controller list (%v): memory and CPU limits are not enforced", root, err)
	}
	have := strings.Fields(string(b))
	var missing []string
	for _, c := range []string{"memory", "cpu"} {
		if !contains(have, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return false, fmt.Sprintf("cgroup v2 at %s lacks the %s controller: memory and CPU limits are not enforced", root, strings.Join(missing, " and "))
	}
	return true, fmt.Sprintf("memory and CPU limits are enforced with cgroup v2 (%s)", filepath.Join(root, cgroupParent))
}

func fsName(magic int64) string {
	switch magic {
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.CGROUP_SUPER_MAGIC:
		return "cgroup v1"
	case unix.SYSFS_MAGIC:
		return "sysfs"
	}
	return fmt.Sprintf("a filesystem of type %#x", magic)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cgroups creates instance groups under root/velocity. root is a field so
// that tests can check the files written in a temporary directory.
type cgroups struct {
	root string
}

// prepare enables the memory and cpu controllers for root's children and
// for velocity's, without which the instance groups have no memory.max or
// cpu.max. It fails where the hierarchy is delegated in a way we cannot
// use (for example a container whose cgroup root holds processes).
func (c *cgroups) prepare() error {
	if err := writeCgroupFile(c.root, "cgroup.subtree_control", "+memory +cpu"); err != nil {
		return err
	}
	parent := filepath.Join(c.root, cgroupParent)
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create cgroup: %w", err)
	}
	return writeCgroupFile(parent, "cgroup.subtree_control", "+memory +cpu")
}

// create makes the group for one instance and sets its limits.
func (c *cgroups) create(id string, memory int64, cpu float64) (*cgroup, error) {
	dir := filepath.Join(c.root, cgroupParent, id)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	g := &cgroup{dir: dir}
	if memory > 0 {
		if err := writeCgroupFile(dir, "memory.max", strconv.FormatInt(memory, 10)); err != nil {
			_ = g.remove()
			return nil, err
		}
	}
	if cpu > 0 {
		quota := max(int64(cpu*cpuPeriod), minCPUQuota)
		if err := writeCgroupFile(dir, "cpu.max", fmt.Sprintf("%d %d", quota, cpuPeriod)); err != nil {
			_ = g.remove()
			return nil, err
		}
	}
	return g, nil
}

// cgroup is one instance's group; each process of the instance joins it as
// it starts (proc.Spec.Cgroup).
type cgroup struct {
	dir string
}

// remove deletes the group. The kernel refuses (EBUSY) while a killed
// process has not quite left it, hence the short retry.
func (g *cgroup) remove() error {
	var err error
	for range 20 {
		err = unix.Rmdir(g.dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", g.dir, err)
}

// writeCgroupFile writes one value. Interface files exist in a real
// cgroupfs; O_CREATE only matters for the test's plain directory.
func writeCgroupFile(dir, name, value string) error {
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cgroup: write %q to %s: %w", value, p, err)
	}
	return nil
}
