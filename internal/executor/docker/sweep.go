package docker

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
)

// selfOwner is the OwnerLabel value of this process.
func selfOwner() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", err
	}
	start, err := startTime(os.Getpid())
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), start), nil
}

// startTime is the start time of process pid in clock ticks since boot,
// which tells a process from a later one that got the same pid.
func startTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	// Fields after the command name start at field 3; starttime is 22.
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return f[19], nil
}

// alive reports whether the owner label names a process that still runs,
// or one on another host, which this one cannot judge.
func alive(owner string) bool {
	parts := strings.Split(owner, "/")
	if len(parts) != 3 {
		return true
	}
	if host, err := os.Hostname(); err != nil || host != parts[0] {
		return true
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return true
	}
	start, err := startTime(pid)
	return err == nil && start == parts[2]
}

// sweep removes the containers and networks of Velocity processes of this
// host that are gone: a Velocity killed with SIGKILL, or a machine that
// lost power, cleans up nothing itself. It runs when an executor is made,
// which is when a run first needs Docker.
func (e *Executor) sweep(ctx context.Context) {
	f := client.Filters{}.Add("label", OwnerLabel)
	cs, err := e.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		e.opt.Logger.Warn("cannot list leftover containers", "err", err)
		return
	}
	for _, c := range cs.Items {
		if alive(c.Labels[OwnerLabel]) {
			continue
		}
		e.opt.Logger.Info("removing the container of a Velocity that is gone", "container", c.ID, "step", c.Labels[StepLabel])
		if _, err := e.c.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !isGone(err) {
			e.opt.Logger.Warn("leftover container not removed", "container", c.ID, "err", err)
		}
	}
	ns, err := e.c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		e.opt.Logger.Warn("cannot list leftover networks", "err", err)
		return
	}
	for _, n := range ns.Items {
		if alive(n.Labels[OwnerLabel]) {
			continue
		}
		if _, err := e.c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isGone(err) {
			e.opt.Logger.Warn("leftover network not removed", "network", n.Name, "err", err)
		}
	}
}
