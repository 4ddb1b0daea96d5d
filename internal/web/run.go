package web

import "net/http"

// runRoutes registers the routes of this file's pages.
func (s *Site) runRoutes(mux *http.ServeMux) {}
