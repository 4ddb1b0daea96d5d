package docker

import (
	"context"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/executor/owner"
)

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
		if owner.Alive(c.Labels[OwnerLabel]) {
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
		if owner.Alive(n.Labels[OwnerLabel]) {
			continue
		}
		if _, err := e.c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isGone(err) {
			e.opt.Logger.Warn("leftover network not removed", "network", n.Name, "err", err)
		}
	}
}
