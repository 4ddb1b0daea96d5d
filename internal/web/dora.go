package web

import "net/http"

// doraRoutes registers the routes of this file's pages.
func (s *Site) doraRoutes(mux *http.ServeMux) {}
