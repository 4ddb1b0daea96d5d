package web

import "net/http"

// deployRoutes registers the routes of this file's pages.
func (s *Site) deployRoutes(mux *http.ServeMux) {}
