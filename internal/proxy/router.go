package proxy

import (
	"bytes"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
)

// router maps hosts to routes. Lookups read an immutable map through an
// atomic pointer; writers copy it, because routes change per deploy while
// lookups happen per request.
type router struct {
	mu    sync.Mutex // serialises writers
	table atomic.Pointer[map[string]*Route]
}

func (rt *router) lookup(host string) *Route {
	m := rt.table.Load()
	if m == nil {
		return nil
	}
	return (*m)[normalizeHost(host)]
}

// lookupBytes is lookup for a Host header still in the read buffer; the
// common host (lower case, maybe a port) is looked up without allocating.
func (rt *router) lookupBytes(host []byte) *Route {
	m := rt.table.Load()
	if m == nil {
		return nil
	}
	h := host
	if i := bytes.LastIndexByte(h, ':'); i >= 0 && bytes.IndexByte(h, ':') == i {
		h = h[:i]
	}
	for _, c := range h {
		if 'A' <= c && c <= 'Z' || c == '[' {
			return (*m)[normalizeHost(string(host))]
		}
	}
	if len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	return (*m)[string(h)]
}

func (rt *router) set(host string, r *Route) {
	rt.update(func(m map[string]*Route) { m[normalizeHost(host)] = r })
}

func (rt *router) remove(host string) {
	rt.update(func(m map[string]*Route) { delete(m, normalizeHost(host)) })
}

func (rt *router) update(f func(map[string]*Route)) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	next := map[string]*Route{}
	if cur := rt.table.Load(); cur != nil {
		next = maps.Clone(*cur)
	}
	f(next)
	rt.table.Store(&next)
}

// normalizeHost strips the port, IPv6 brackets and a trailing dot, and
// lower-cases. It allocates only for hosts with upper-case letters.
func normalizeHost(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[1:i]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	return strings.ToLower(h)
}
