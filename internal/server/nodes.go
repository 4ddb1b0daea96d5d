package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/velocity-ci/velocity/internal/nodes"
)

// pathNodes lists the velocity serve nodes sharing the store.
const pathNodes = "/api/v1/nodes"

// Nodes serves the list of nodes.
type Nodes struct {
	Service *nodes.Service
	Logger  *slog.Logger
}

// Register adds the route to mux.
func (h *Nodes) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+pathNodes, h.handleList)
}

func (h *Nodes) handleList(w http.ResponseWriter, r *http.Request) {
	list, err := h.Service.List(r.Context())
	if err != nil {
		writeError(w, orDiscard(h.Logger), r, err)
		return
	}
	if list == nil {
		list = []nodes.Node{}
	}
	writeJSON(w, http.StatusOK, list)
}

// Nodes lists the nodes sharing the server's store.
func (c *Client) Nodes(ctx context.Context) ([]nodes.Node, error) {
	var out []nodes.Node
	err := c.do(ctx, http.MethodGet, pathNodes, nil, &out)
	return out, err
}
