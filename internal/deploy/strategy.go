package deploy

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/velocity-ci/velocity/internal/proxy"
)

// rolling replaces instances one at a time: a new one must be healthy and
// in the route before an old one is drained, so capacity never drops
// (max_unavailable 0) and at most one extra instance runs (max_surge 1).
func (d *Deployer) rolling(ctx context.Context, dep *deployment, next *release, req Request, logf func(string, ...any)) error {
	svc := req.Service
	replicas := max(svc.Replicas, 1)
	old := dep.current
	var oldLeft []*instance
	if old != nil {
		oldLeft = append(oldLeft, old.instances...)
	}
	for i := 0; i < replicas; i++ {
		if _, err := d.start(ctx, next, req); err != nil {
			return err
		}
		logf("%s/%s: instance %d/%d of release %s healthy", req.Environment.Name, svc.Name, i+1, replicas, next.id)
		var retiring *instance
		if len(oldLeft) > 0 {
			retiring, oldLeft = oldLeft[0], oldLeft[1:]
		}
		if err := dep.route.SetGroups(groups([]*release{{id: oldID(old), instances: oldLeft}, next}, nil)); err != nil {
			return err
		}
		if retiring != nil {
			d.retire(retiring, svc.Drain)
			// The old release no longer has it: should a later instance
			// fail, abort puts back only what still runs.
			d.forget(old, retiring)
		}
	}
	if err := dep.route.SetGroups(groups([]*release{next}, nil)); err != nil {
		return err
	}
	for _, in := range oldLeft {
		d.retire(in, svc.Drain)
	}
	return nil
}

// forget removes a stopped instance from a release that may be current.
func (d *Deployer) forget(r *release, in *instance) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r.instances = slices.DeleteFunc(r.instances, func(x *instance) bool { return x == in })
}

func oldID(r *release) string {
	if r == nil {
		return "none"
	}
	return r.id
}

// blueGreen starts the whole new release beside the old, switches all
// traffic at once when every instance is healthy, and keeps the old one
// running (not serving) for keep_warm before stopping it.
func (d *Deployer) blueGreen(ctx context.Context, dep *deployment, next *release, req Request, logf func(string, ...any)) error {
	svc := req.Service
	for i := 0; i < max(svc.Replicas, 1); i++ {
		if _, err := d.start(ctx, next, req); err != nil {
			return err
		}
	}
	if err := dep.route.SetGroups(groups([]*release{next}, nil)); err != nil {
		return err
	}
	logf("%s/%s: traffic switched to release %s", req.Environment.Name, svc.Name, next.id)
	if old := dep.current; old != nil {
		d.keepWarm(dep, old, drainTimeout(svc), svc.Strategy.KeepWarm)
	}
	return nil
}

// canaryCut is a canary the deploy's deadline ended: its instances were
// healthy, the deadline was too short for its steps.
type canaryCut struct {
	id     string
	weight int
	doing  string
}

func (e *canaryCut) Error() string {
	return fmt.Sprintf("canary %s at %d%% %s when the deploy's deadline came", e.id, e.weight, e.doing)
}

// pause waits out a canary step's pause.
func pause(ctx context.Context, d time.Duration, id string, weight int) error {
	select {
	case <-ctx.Done():
		return &canaryCut{id: id, weight: weight, doing: "was in its pause"}
	case <-time.After(d):
		return nil
	}
}

// canaryStats measures canary and stable over the step that just ended.
// With fewer than min requests to the canary it waits for more, up to
// the step's pause again (at least 1s, at most 1m), so a verdict is
// never made on too little data nor skipped because traffic came late.
func (d *Deployer) canaryStats(ctx context.Context, dep *deployment, canary, stable string, stepPause time.Duration, min int) (c, s proxy.Stats, waited time.Duration) {
	window := max(stepPause, time.Second)
	extra := max(window, time.Second)
	if extra > time.Minute {
		extra = time.Minute
	}
	end := time.Now().Add(extra)
	for {
		c, s = dep.route.Stats(canary, window), dep.route.Stats(stable, window)
		if c.Requests >= min || !time.Now().Before(end) || ctx.Err() != nil {
			return c, s, window
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
			window += 100 * time.Millisecond
		}
	}
}

// canary sends growing shares of traffic to the new release, comparing
// its error rate and p95 latency with the stable release's after each
// pause; a worse canary is rolled back automatically.
func (d *Deployer) canary(ctx context.Context, dep *deployment, next *release, req Request, logf func(string, ...any)) error {
	svc := req.Service
	stable := dep.current
	for i := 0; i < max(svc.Replicas, 1); i++ {
		if _, err := d.start(ctx, next, req); err != nil {
			return err
		}
	}
	if stable == nil {
		return dep.route.SetGroups(groups([]*release{next}, nil))
	}
	a := svc.Strategy.Analysis
	for _, step := range svc.Strategy.Steps {
		if err := dep.route.SetGroups(groups([]*release{stable, next}, []int{100 - step.Weight, step.Weight})); err != nil {
			return err
		}
		logf("%s/%s: canary %s at %d%%", req.Environment.Name, svc.Name, next.id, step.Weight)
		if err := pause(ctx, step.Pause, next.id, step.Weight); err != nil {
			return err
		}
		c, s, waited := d.canaryStats(ctx, dep, next.id, stable.id, step.Pause, max(a.MinRequests, 1))
		if c.Requests < max(a.MinRequests, 1) {
			if ctx.Err() != nil {
				return &canaryCut{id: next.id, weight: step.Weight, doing: "was waiting for traffic to analyse"}
			}
			if a.OnInconclusive == "promote" {
				logf("%s/%s: canary analysis skipped at %d%%: %d requests to %s in %v, min_requests %d; going on as analysis.on_inconclusive is promote",
					req.Environment.Name, svc.Name, step.Weight, c.Requests, next.id, waited.Round(100*time.Millisecond), a.MinRequests)
				continue
			}
			return fmt.Errorf("canary analysis inconclusive: %d requests to %s in %v, min_requests %d; send traffic during the canary or lower min_requests (or set analysis.on_inconclusive: promote to go on without data)",
				c.Requests, next.id, waited.Round(100*time.Millisecond), a.MinRequests)
		}
		if inc := c.ErrorRate() - s.ErrorRate(); inc > a.MaxErrorRateIncrease {
			return fmt.Errorf("canary analysis: error rate %.1f%% against %.1f%% for stable release %s (allowed increase %.1f points)",
				100*c.ErrorRate(), 100*s.ErrorRate(), stable.id, 100*a.MaxErrorRateIncrease)
		}
		if s.P95 > 0 && a.MaxLatencyRatio > 0 && float64(c.P95) > a.MaxLatencyRatio*float64(s.P95) && c.P95-s.P95 > a.MinLatencyIncrease {
			return fmt.Errorf("canary analysis: p95 latency %v against %v for stable release %s (allowed ratio %.2f, counted from %v slower)",
				c.P95, s.P95, stable.id, a.MaxLatencyRatio, a.MinLatencyIncrease)
		}
	}
	if err := dep.route.SetGroups(groups([]*release{next}, nil)); err != nil {
		return err
	}
	for _, in := range stable.instances {
		d.retire(in, svc.Drain)
	}
	return nil
}
