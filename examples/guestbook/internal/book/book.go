// Package book is the guestbook's HTTP interface: GET / lists the
// entries, POST / with a "name" form field signs the book, GET /healthz
// answers "ok".
package book

import (
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

// Entries is where the book is kept: in memory, or a kv server.
type Entries interface {
	Append(key, value string) (int, error)
	List(key string) ([]string, error)
}

const key = "guestbook"

// maxName bounds a signature.
const maxName = 100

// New returns the handler of the book kept in entries; version is shown
// on the page.
func New(version string, entries Entries, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		items, err := entries.List(key)
		if err != nil {
			log.Error("list", "err", err)
			http.Error(w, "the book cannot be read", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "guestbook %s: %d entries\n", version, len(items))
		for _, it := range items {
			fmt.Fprintln(w, "-", it)
		}
	})
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		name := strings.TrimSpace(r.FormValue("name"))
		if name == "" || len(name) > maxName || strings.ContainsAny(name, "\r\n") {
			http.Error(w, fmt.Sprintf("name must be 1 to %d characters on one line", maxName), http.StatusBadRequest)
			return
		}
		n, err := entries.Append(key, html.EscapeString(name))
		if err != nil {
			log.Error("append", "err", err)
			http.Error(w, "the book cannot be written", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "signed, entry %d\n", n)
	})
	return mux
}

// Memory keeps entries in the process, for an instance without a kv
// server.
type Memory struct {
	mu    sync.Mutex
	lists map[string][]string
}

// Append implements Entries.
func (m *Memory) Append(key, value string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lists == nil {
		m.lists = map[string][]string{}
	}
	m.lists[key] = append(m.lists[key], value)
	return len(m.lists[key]), nil
}

// List implements Entries.
func (m *Memory) List(key string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.lists[key]...), nil
}
