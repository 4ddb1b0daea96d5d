package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
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
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.Local().Format("2006-01-02 15:04:05")
		},
		// can reports whether the page's user has at least role r:
		// buttons a user may not use are not shown.
		"can": func(u access.Token, r string) bool { return access.Allow(u.Role, access.Role(r)) },
	}
}

// render writes page (templates/PAGE.html, which defines "content")
// inside the layout, with status 200. It renders into a buffer first, so
// that a template error is a 500 and not half a page.
func (s *Site) render(w http.ResponseWriter, r *http.Request, page, title, nav string, data any) {
	t, err := template.New("layout.html").Funcs(funcs()).ParseFS(files, "templates/layout.html", "templates/"+page+".html")
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
	w.Write(buf.Bytes())
}

// fail answers a request that failed on the server's side; the detail
// goes to the log only.
func (s *Site) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.log().Error("web page", "path", r.URL.Path, "err", err)
	http.Error(w, "internal error in velocity serve; its log has the details", http.StatusInternalServerError)
}
