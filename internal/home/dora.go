package home

import "github.com/velocity-ci/velocity/internal/dora"

// Dora is the service computing the data directory's DORA four keys
// from its journal.
func (h *Home) Dora() *dora.Service {
	return &dora.Service{Runs: h.Store, Deployments: h.Store, Projects: h.Store}
}
