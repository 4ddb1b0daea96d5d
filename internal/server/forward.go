package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"

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

// executedByHeader names, on the answers about a run, the node that
// executes it and answered.
const executedByHeader = "Velocity-Executed-By"

// maxForwardedBody bounds the body of a request passed on (a cancel's
// JSON), which is kept to answer here if the other node does not.
const maxForwardedBody = 1 << 16

// forward passes r, which acts on the process of run id (its live
// events, a cancel), to the node executing the run when that is another
// node, and reports whether it answered: any node takes any call, though
// only one executes a run. The caller's credentials go along (every node
// knows the same tokens); a request without any (the local control
// socket's) is answered here, as is one the other node does not take
// (unreachable, or an address no other node can dial): then this node
// answers from the journal, as when no node executes the run.
func (h *Runs) forward(w http.ResponseWriter, r *http.Request, id int64) bool {
	if h.Nodes == nil || r.Header.Get(forwardedHeader) != "" || r.Header.Get("Authorization") == "" || h.Service.Executes(id) {
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
	if err != nil || !dialable(target) {
		h.log().Warn("runs API: the address the node executing a run gives cannot be dialled from here; answering from the journal",
			"run", id, "node", n.ID, "addr", n.Addr)
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForwardedBody))
	if err != nil {
		h.fail(w, r, err)
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	failed := false
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(forwardedHeader, h.Self)
		},
		// Events go out as they come.
		FlushInterval: -1,
		// Called before anything is written: the request is answered
		// here instead.
		ErrorHandler: func(_ http.ResponseWriter, _ *http.Request, err error) {
			failed = true
			h.log().Warn("runs API: the node executing a run did not answer; answering from the journal",
				"run", id, "node", n.ID, "addr", n.Addr, "err", err)
		},
	}
	h.log().Debug("runs API: passing a request to the node executing the run", "run", id, "node", n.ID, "path", r.URL.Path)
	p.ServeHTTP(w, r)
	if failed {
		r.Body = io.NopCloser(bytes.NewReader(body))
		return false
	}
	return true
}

// dialable reports whether u names a host another node can dial: not
// the unspecified address a node listening on all interfaces reports
// (":8443" is "[::]:8443"), which would be this node itself.
func dialable(u *url.URL) bool {
	host := u.Hostname()
	if host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsUnspecified()
}

// executedHere marks an answer about run id as this node's, which
// executes it.
func (h *Runs) executedHere(w http.ResponseWriter, id int64) {
	if h.Self != "" && h.Service.Executes(id) {
		w.Header().Set(executedByHeader, h.Self)
	}
}
