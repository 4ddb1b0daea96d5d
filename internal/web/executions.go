package web

import "net/http"

// executionRoutes registers the routes of this file's pages.
func (s *Site) executionRoutes(mux *http.ServeMux) {}
