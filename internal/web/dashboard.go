package web

import "net/http"

// dashboardRoutes registers the routes of this file's pages.
func (s *Site) dashboardRoutes(mux *http.ServeMux) {}
