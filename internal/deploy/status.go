package deploy

import (
	"sort"
	"strings"
)

// Status is what serves one service in one environment.
type Status struct {
	Environment string
	Service     string
	// Release is the release serving; empty when none does (its only
	// deploy failed).
	Release   string
	URL       string
	Hosts     []string
	Instances []InstanceStatus
	// Warm lists blue-green releases kept running for an instant rollback.
	Warm []string
}

// InstanceStatus is one instance of the serving release.
type InstanceStatus struct {
	ID       string
	Addr     string
	Pid      int
	State    string // the runtime's: running, restarting, ...
	Health   string // the proxy's: healthy, unhealthy, draining
	Restarts int
}

// Statuses lists every service the deployer has deployed, by environment
// and service.
func (d *Deployer) Statuses() []Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Status, 0, len(d.live))
	for key, dep := range d.live {
		env, svc, _ := strings.Cut(key, "/")
		st := Status{Environment: env, Service: svc, Hosts: dep.hosts}
		if len(dep.hosts) > 0 {
			st.URL = strings.Replace(d.ProxyURL, "127.0.0.1", dep.hosts[0], 1)
		}
		if dep.current != nil {
			st.Release = dep.current.id
			for _, in := range dep.current.instances {
				is := InstanceStatus{ID: in.proc.ID(), Addr: in.proc.Addr(),
					State: string(in.proc.State()), Restarts: in.proc.Restarts()}
				// Only instances that are host processes have a pid.
				if p, ok := in.proc.(interface{ Pid() int }); ok {
					is.Pid = p.Pid()
				}
				if in.target != nil {
					is.Health = in.target.State().String()
				}
				st.Instances = append(st.Instances, is)
			}
		}
		seen := map[string]bool{}
		for _, r := range dep.warm {
			if !seen[r.id] {
				seen[r.id] = true
				st.Warm = append(st.Warm, r.id)
			}
		}
		sort.Strings(st.Warm)
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Environment != out[j].Environment {
			return out[i].Environment < out[j].Environment
		}
		return out[i].Service < out[j].Service
	})
	return out
}
