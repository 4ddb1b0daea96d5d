package proxy

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInvalidGroups is wrapped by SetGroups errors.
var ErrInvalidGroups = errors.New("invalid target groups")

// Group is one release of a service and its share of the route's traffic.
type Group struct {
	Release string
	// Weight is the relative share of traffic, 0..100; 0 takes the group
	// out of traffic entirely (not even as a fallback).
	Weight  int
	Targets []*Target
	Policy  Policy
}

// Route is the service behind one or more hosts: labels for metrics plus
// the release groups traffic is split between. Readers see an immutable
// snapshot through an atomic pointer, so SetGroups switches every new
// request at once and no request sees half an update.
type Route struct {
	env, service string
	metrics      *metrics

	snap atomic.Pointer[routeSnapshot]

	mu       sync.Mutex // serialises writers; guards releases
	releases map[string]*release
}

// release is the per-release state that outlives snapshots: its metric
// series and its sample ring, so stats survive weight changes.
type release struct {
	name    string
	metrics *releaseMetrics
	ring    sampleRing
}

type routeSnapshot struct {
	groups []*group
	total  int // sum of weights
}

type group struct {
	rel     *release
	weight  int
	policy  Policy
	targets []*Target
	rr      atomic.Uint64
}

// NewRoute creates a route for a service; traffic is recorded under its
// environment and service labels. It serves 503 until SetGroups.
func (p *Proxy) NewRoute(environment, service string) *Route {
	r := &Route{env: environment, service: service, metrics: p.metrics, releases: map[string]*release{}}
	r.snap.Store(&routeSnapshot{})
	return r
}

// Environment is the route's environment label.
func (r *Route) Environment() string { return r.env }

// Service is the route's service label.
func (r *Route) Service() string { return r.service }

// SetGroups replaces the route's release groups atomically. Releases that
// leave the route lose their stats at once and their metric series after
// Options.MetricsRetention.
func (r *Route) SetGroups(groups []Group) error {
	total := 0
	seen := make(map[string]bool, len(groups))
	for _, g := range groups {
		switch {
		case g.Release == "":
			return fmt.Errorf("%w: group without release name", ErrInvalidGroups)
		case seen[g.Release]:
			return fmt.Errorf("%w: release %q twice", ErrInvalidGroups, g.Release)
		case g.Weight < 0 || g.Weight > 100:
			return fmt.Errorf("%w: release %q weight %d not in 0..100", ErrInvalidGroups, g.Release, g.Weight)
		case slices.Contains(g.Targets, nil):
			return fmt.Errorf("%w: release %q has a nil target", ErrInvalidGroups, g.Release)
		}
		seen[g.Release] = true
		total += g.Weight
	}
	if len(groups) > 0 && total == 0 {
		return fmt.Errorf("%w: all weights are zero", ErrInvalidGroups)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	snap := &routeSnapshot{total: total, groups: make([]*group, len(groups))}
	for i, g := range groups {
		rel := r.releases[g.Release]
		if rel == nil {
			rel = &release{name: g.Release, metrics: r.metrics.forRelease(r.env, r.service, g.Release)}
			r.releases[g.Release] = rel
		}
		snap.groups[i] = &group{rel: rel, weight: g.Weight, policy: g.Policy, targets: slices.Clone(g.Targets)}
	}
	r.snap.Store(snap)
	for name, rel := range r.releases {
		if !seen[name] {
			delete(r.releases, name)
			rel.metrics.retire()
		}
	}
	return nil
}

// Groups returns a copy of the current groups.
func (r *Route) Groups() []Group {
	snap := r.snap.Load()
	out := make([]Group, len(snap.groups))
	for i, g := range snap.groups {
		out[i] = Group{Release: g.rel.name, Weight: g.weight, Policy: g.policy, Targets: slices.Clone(g.targets)}
	}
	return out
}

// Stats summarises the release's requests that finished within the last
// window (bounded by the most recent 4096 samples). An unknown release has
// zero stats.
func (r *Route) Stats(release string, window time.Duration) Stats {
	r.mu.Lock()
	rel := r.releases[release]
	r.mu.Unlock()
	if rel == nil {
		return Stats{}
	}
	return rel.ring.stats(time.Now(), window)
}

// Traffic summarises the requests of every release of the route that
// finished within the last window, together: what the service's users
// saw, whichever release answered.
func (r *Route) Traffic(window time.Duration) Stats {
	r.mu.Lock()
	rings := make([]*sampleRing, 0, len(r.releases))
	for _, rel := range r.releases {
		rings = append(rings, &rel.ring)
	}
	r.mu.Unlock()
	return ringStats(time.Now(), window, rings...)
}
