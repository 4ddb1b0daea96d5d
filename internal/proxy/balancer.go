package proxy

import "math/rand/v2"

// Policy chooses among a group's healthy targets.
type Policy int

const (
	// RoundRobin rotates through healthy targets.
	RoundRobin Policy = iota
	// LeastInFlight picks the healthy target with the fewest requests in
	// flight, which keeps slow instances from piling up work.
	LeastInFlight
)

// pick chooses a group by weight and an acquired target in it. When the
// chosen group has no healthy target another weighted group is used: a
// canary that lost its instances should not fail its share of users while
// the stable release has capacity. The group is returned even without a
// target so the failure is counted against the release that was chosen.
func (s *routeSnapshot) pick() (*group, *Target) {
	if len(s.groups) == 0 {
		return nil, nil
	}
	chosen := s.groups[0]
	if len(s.groups) > 1 {
		n := rand.IntN(s.total)
		for _, g := range s.groups {
			if n < g.weight {
				chosen = g
				break
			}
			n -= g.weight
		}
	}
	if t := chosen.pick(nil); t != nil {
		return chosen, t
	}
	if o, t := s.fallback(chosen, nil); t != nil {
		return o, t
	}
	return chosen, nil
}

// retry finds another target after exclude failed, preferring its group.
func (s *routeSnapshot) retry(g *group, exclude *Target) (*group, *Target) {
	if t := g.pick(exclude); t != nil {
		return g, t
	}
	if o, t := s.fallback(g, exclude); t != nil {
		return o, t
	}
	return g, nil
}

// fallback picks from the weighted groups other than skip, in order.
func (s *routeSnapshot) fallback(skip *group, exclude *Target) (*group, *Target) {
	for _, o := range s.groups {
		if o == skip || o.weight == 0 {
			continue
		}
		if t := o.pick(exclude); t != nil {
			return o, t
		}
	}
	return nil, nil
}

// pick returns an acquired healthy target other than exclude, or nil.
func (g *group) pick(exclude *Target) *Target {
	n := uint64(len(g.targets))
	if n == 0 {
		return nil
	}
	start := g.rr.Add(1) - 1
	if g.policy == LeastInFlight {
		return g.leastInFlight(start, exclude)
	}
	for i := range n {
		t := g.targets[(start+i)%n]
		if t != exclude && t.State() == StateHealthy && t.acquire() {
			return t
		}
	}
	return nil
}

func (g *group) leastInFlight(start uint64, exclude *Target) *Target {
	n := uint64(len(g.targets))
	// A target may leave rotation between the scan and acquire; rescanning a
	// bounded number of times keeps the hot path loop-free in practice.
	for range n {
		var best *Target
		var bestN int64
		for i := range n {
			t := g.targets[(start+i)%n]
			if t == exclude || t.State() != StateHealthy {
				continue
			}
			if c := t.InFlight(); best == nil || c < bestN {
				best, bestN = t, c
			}
		}
		if best == nil {
			return nil
		}
		if best.acquire() {
			return best
		}
	}
	return nil
}
