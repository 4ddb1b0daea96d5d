package home

import (
	"context"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/velocity-ci/velocity/internal/nodes"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// Nodes is the list of the velocity serve nodes sharing the store.
func (h *Home) Nodes() *nodes.Service {
	return &nodes.Service{Store: h.Store, TTL: h.leaseTTL(), Leases: h.Store, Self: h.holder}
}

// NodeID is this process's name among the nodes and in the leases of
// the runs it executes.
func (h *Home) NodeID() string { return h.holder }

// Heartbeat reports this node to the others: where its API listens
// (addr), since when, the runs svc executes and how many of their
// actions run now.
func (h *Home) Heartbeat(ctx context.Context, svc *runs.Service, addr string, started time.Time) error {
	n := store.Node{ID: h.holder, Addr: advertised(addr), Started: started, Runs: svc.Executing()}
	for _, id := range n.Runs {
		acts, err := h.Store.Actions(ctx, id)
		if err != nil {
			continue // ended meanwhile, or the next heartbeat counts it
		}
		for _, a := range acts {
			if a.Status == store.Running {
				n.Actions++
			}
		}
	}
	return h.Nodes().Heartbeat(ctx, n)
}

// advertised is the address the other nodes reach this one's API at: a
// listener on all interfaces (--listen :8443 reports [::]:8443) is named
// by this machine's host name instead, which the other nodes can dial.
func advertised(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return addr
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsUnspecified() {
		return addr
	}
	host, err := os.Hostname()
	if err != nil {
		return addr
	}
	u.Host = net.JoinHostPort(host, u.Port())
	return u.String()
}
