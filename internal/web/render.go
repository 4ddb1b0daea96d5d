package web

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/server"
)

// view is what every page's template gets: the page's own data in .Data,
// and what the layout needs.
type view struct {
	Title string
	// Nav is the navigation entry to mark current ("dashboard",
	// "deployments", "executions", "dora").
	Nav  string
	User access.Token
	// CSRF is the token every form posts back (see csrfField).
	CSRF string
	Data any
}

// funcs are the template functions every page may use.
func funcs() template.FuncMap {
	return template.FuncMap{
		"short": func(s string) string {
			if len(s) > 12 {
				return s[:12]
			}
			return s
		},
		"duration": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
		"percent":  func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + " %" },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.Local().Format("2006-01-02 15:04:05")
		},
		// dataAction is the data-action attribute naming an action
		// ("stage/name", a matrix cell's "name@k=v,…"). html/template
		// takes an attribute ending in "action" for a URL and would
		// percent-encode it; the value is HTML-escaped here instead, so
		// that it stays the name live.js compares with the stream's.
		"dataAction": func(id string) template.HTMLAttr {
			return template.HTMLAttr(`data-action="` + html.EscapeString(id) + `"`)
		},
		// max1 is n, at least 1: a rowspan of an empty list.
		"max1": func(n int) int { return max(n, 1) },
		// can reports whether the page's user has at least role r:
		// buttons a user may not use are not shown.
		"can": func(u access.Token, r string) bool { return access.Allow(u.Role, access.Role(r)) },
	}
}

// render writes page (templates/PAGE.html, which defines "content")
// inside the layout, with status 200. It renders into a buffer first, so
// that a template error is a 500 and not half a page.
func (s *Site) render(w http.ResponseWriter, r *http.Request, page, title, nav string, data any) {
	s.renderStatus(w, r, http.StatusOK, page, title, nav, data)
}

// renderStatus is render with another status than 200: a refused login,
// a forbidden action, a run that does not exist.
func (s *Site) renderStatus(w http.ResponseWriter, r *http.Request, code int, page, title, nav string, data any) {
	t, err := s.pages.template(page)
	if err != nil {
		s.fail(w, r, fmt.Errorf("page %s: %w", page, err))
		return
	}
	v := view{Title: title, Nav: nav, Data: data, CSRF: s.csrfToken(r)}
	v.User, _ = s.user(r)
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		s.fail(w, r, fmt.Errorf("page %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// pages holds each page's template parsed with the layout: the files
// are embedded and never change, and parsing them costs more than
// rendering a page.
type pages struct {
	mu     sync.Mutex
	parsed map[string]*template.Template
}

func newPages() *pages { return &pages{parsed: map[string]*template.Template{}} }

// template is page's template, parsed on first use. A nil pages (a Site
// whose Handler was not called) parses every time.
func (p *pages) template(page string) (*template.Template, error) {
	if p == nil {
		return parsePage(page)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.parsed[page]; ok {
		return t, nil
	}
	t, err := parsePage(page)
	if err == nil {
		p.parsed[page] = t
	}
	return t, err
}

func parsePage(page string) (*template.Template, error) {
	return template.New("layout.html").Funcs(funcs()).ParseFS(files, "templates/layout.html", "templates/"+page+".html")
}

// errorPage is the data of templates/error.html.
type errorPage struct {
	Status  int
	Message string
}

// failWith answers a service's error by its kind: what the user can act
// on (a run that does not exist, a stage that does not wait) is shown on
// an error page; an internal failure goes to the log only (see fail).
func (s *Site) failWith(w http.ResponseWriter, r *http.Request, err error) {
	code := server.StatusOf(err)
	if code == http.StatusInternalServerError {
		s.fail(w, r, err)
		return
	}
	s.renderStatus(w, r, code, "error", http.StatusText(code), "", errorPage{Status: code, Message: err.Error()})
}

// fail answers a request that failed on the server's side; the detail
// goes to the log only.
func (s *Site) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.log().Error("web page", "path", r.URL.Path, "err", err)
	http.Error(w, "internal error in velocity serve; its log has the details", http.StatusInternalServerError)
}
