package server

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/velocity-ci/velocity/internal/dora"
	"github.com/velocity-ci/velocity/internal/fault"
)

// pathProjectDora is a project's DORA four keys:
// ?days=N&environment=ENV, both optional.
const pathProjectDora = "/api/v1/projects/{name}/dora"

// Dora serves the DORA four keys of the server's projects.
type Dora struct {
	Service *dora.Service
	Logger  *slog.Logger
}

// Register adds the route to mux.
func (h *Dora) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+pathProjectDora, h.handleKeys)
}

func (h *Dora) handleKeys(w http.ResponseWriter, r *http.Request) {
	log := orDiscard(h.Logger)
	req := dora.Request{Project: r.PathValue("name"), Environment: r.URL.Query().Get("environment")}
	if q := r.URL.Query().Get("days"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil {
			writeError(w, log, r, fault.Invalidf("days=%q is not a number of days", q))
			return
		}
		req.Days = n
	}
	rep, err := h.Service.Keys(r.Context(), req)
	if err != nil {
		writeError(w, log, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
