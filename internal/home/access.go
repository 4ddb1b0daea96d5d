package home

import (
	"github.com/velocity-ci/velocity/internal/access"
)

// Access is the API tokens' service of the data directory. Whoever can
// open the data directory owns the server, so using it needs no token.
func (h *Home) Access() *access.Service {
	return access.New(access.Config{Store: h.Store, Logger: h.cfg.Log})
}
