package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/nodes"
)

// Locator finds the node that executes a run, when another node does
// (nodes.Service).
type Locator interface {
	ExecutorOf(ctx context.Context, id int64) (nodes.Node, bool, error)
}

// forwardedHeader marks a request one node passed to another: it is
// never passed on again, so two nodes that disagree cannot bounce it.
const forwardedHeader = "Velocity-Forwarded-By"

// executedByHeader names, on an answer passed back, the node that
// executes the run and answered.
const executedByHeader = "Velocity-Executed-By"

// errNodeUnreachable is the answer when the node executing a run does
// not answer the request passed to it.
var errNodeUnreachable = fault.New(fault.Unavailable, "the node executing the run did not answer")

// forward passes r, which acts on the process of run id (its live
// events, a cancel), to the node executing the run when that is another
// node, and reports whether it did: any node answers any call, though
// only one executes a run. The caller's credentials go along; every node
// knows the same tokens.
func (h *Runs) forward(w http.ResponseWriter, r *http.Request, id int64) bool {
	if h.Nodes == nil || r.Header.Get(forwardedHeader) != "" || h.Service.Executes(id) {
		return false
	}
	n, ok, err := h.Nodes.ExecutorOf(r.Context(), id)
	if err != nil {
		h.log().Warn("runs API: finding the node executing a run", "run", id, "err", err)
		return false
	}
	if !ok {
		return false
	}
	target, err := url.Parse(n.Addr)
	if err != nil || target.Host == "" {
		h.log().Warn("runs API: a node's address is no URL", "node", n.ID, "addr", n.Addr)
		return false
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(forwardedHeader, h.Self)
		},
		// Says which node answered.
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set(executedByHeader, n.ID)
			return nil
		},
		// Events go out as they come.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			h.fail(w, r, fmt.Errorf("run %d executes on node %s (%s): %w: %v", id, n.ID, n.Addr, errNodeUnreachable, err))
		},
	}
	h.log().Debug("runs API: passing a request to the node executing the run", "run", id, "node", n.ID, "path", r.URL.Path)
	p.ServeHTTP(w, r)
	return true
}
