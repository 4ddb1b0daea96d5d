package deploy

import (
	"context"
	"time"

	"github.com/velocity-ci/velocity/internal/proxy"
	"github.com/velocity-ci/velocity/internal/runtime"
)

// revive puts a blue-green release that is still kept warm back into
// service without starting anything: a rollback within keep_warm is a
// switch of traffic. Its old proxy targets were drained for good, so the
// running processes get new targets, which pass their first health check
// at once. It reports false, changing nothing that serves, when the
// release is not warm or any of its instances is not up; the caller then
// deploys the release from scratch. Whether the release is warm is what
// the deployment holds, not the strategy in req: a rollback to a release
// first deployed rolling, which a blue-green deploy then replaced and
// kept warm, switches back just as fast.
func (d *Deployer) revive(ctx context.Context, dep *deployment, req Request, logf func(string, ...any)) (Result, bool) {
	d.mu.Lock()
	var old *release
	var warm []*instance
	for in, r := range dep.warm {
		if r.id == req.Release {
			old = r
			warm = append(warm, in)
		}
	}
	d.mu.Unlock()
	if old == nil {
		return Result{}, false
	}
	for _, in := range warm {
		if in.proc.State() != runtime.StateRunning {
			return Result{}, false
		}
	}
	h := req.Service.Health
	// One health interval and timeout, with slack: a warm instance that
	// does not answer that fast is not worth switching to.
	wait := max(h.Interval, 100*time.Millisecond) + max(h.Timeout, time.Second)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	next := &release{id: old.id, dir: old.dir, keepWarm: old.keepWarm, fingerprint: old.fingerprint}
	if req.Service.Strategy.Type == "blue-green" {
		next.keepWarm = req.Service.Strategy.KeepWarm
	}
	for _, in := range warm {
		n := &instance{proc: in.proc}
		next.instances = append(next.instances, n)
		t, err := d.Proxy.NewTarget("http://" + in.proc.Addr())
		if err == nil {
			n.target = t
			n.stopCheck = t.StartHealthCheck(context.WithoutCancel(ctx), healthCheck(req))
			err = t.WaitHealthy(wctx)
		}
		if err != nil {
			for _, n := range next.instances {
				if n.stopCheck != nil {
					n.stopCheck()
				}
			}
			if d.Logger != nil {
				d.Logger.Info("warm release not reused", "release", old.id, "err", err)
			}
			return Result{}, false
		}
	}
	d.mu.Lock()
	for _, in := range warm {
		delete(dep.warm, in) // the keep_warm timer must not stop them now
	}
	d.mu.Unlock()
	for _, in := range warm {
		if in.stopCheck != nil {
			in.stopCheck()
		}
	}
	if err := dep.route.SetGroups(groups([]*release{next}, nil)); err != nil {
		// Cannot happen with healthy targets; keep the old release serving.
		for _, n := range next.instances {
			d.retire(n, time.Millisecond)
		}
		return Result{}, false
	}
	logf("%s/%s: traffic switched back to release %s, kept warm (nothing started)", req.Environment.Name, req.Service.Name, old.id)
	if cur := dep.current; cur != nil {
		// The release switched away from stays warm as its own
		// deploy asked, so a roll forward is instant too.
		keep := cur.keepWarm
		if req.Service.Strategy.Type == "blue-green" {
			keep = max(keep, req.Service.Strategy.KeepWarm)
		}
		d.keepWarm(dep, cur, drainTimeout(req.Service), keep)
	}
	d.mu.Lock()
	dep.current = next
	d.mu.Unlock()
	res := d.serving(dep, req, logf)
	res.Warm = true
	return res, true
}

// healthCheck is the proxy's check for req's service. spec.Health: an
// empty path without TCP means "/", while an empty proxy.HealthCheck path
// means a TCP check.
func healthCheck(req Request) proxy.HealthCheck {
	h := req.Service.Health
	path := h.HTTP
	switch {
	case h.TCP:
		path = ""
	case path == "":
		path = "/"
	}
	return proxy.HealthCheck{
		Path: path, Interval: max(h.Interval/4, 50*time.Millisecond), Timeout: h.Timeout,
		Healthy: max(h.Healthy, 1), Unhealthy: max(h.Unhealthy, 1),
	}
}
