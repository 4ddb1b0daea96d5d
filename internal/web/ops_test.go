package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// opsSite is a Site on a real SQLite store in a fresh data directory,
// served over HTTP, with a browser-like client (cookies, redirects).
type opsSite struct {
	site   *Site
	store  *sqlite.Store
	dir    string
	srv    *httptest.Server
	client *http.Client
}

func newOpsSite(t *testing.T, configure func(dir string, st *sqlite.Store, s *Site)) *opsSite {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	rand.Read(key)
	s := &Site{Access: access.New(access.Config{Store: st}), Key: key,
		Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	configure(dir, st, s)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &opsSite{site: s, store: st, dir: dir, srv: srv, client: &http.Client{Jar: jar}}
}

// login signs the client in with a new token of role through the login
// form, and reports whether the site has one: without it, the site lets
// every request through.
func (o *opsSite) login(t *testing.T, role access.Role) bool {
	t.Helper()
	secret, err := o.site.Access.Create(context.Background(), "web-"+string(role), role)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := o.client.Get(o.srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return false
	}
	form := url.Values{"token": {secret}, "csrf": {opsCSRF(string(body))}}
	resp, err = o.client.PostForm(o.srv.URL+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		t.Fatalf("login as %s: %s", role, resp.Status)
	}
	return true
}

// get fetches path and returns its status and body.
func (o *opsSite) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := o.client.Get(o.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post submits form to path with the CSRF token of the page it was on,
// following the redirect, and returns where it ended, its status and
// body.
func (o *opsSite) post(t *testing.T, page, path string, form url.Values) (string, int, string) {
	t.Helper()
	_, body := o.get(t, page)
	form.Set("csrf", opsCSRF(body))
	resp, err := o.client.PostForm(o.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Request.URL.RequestURI(), resp.StatusCode, string(b)
}

var opsCSRFField = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// opsCSRF is the CSRF token of the first form in page.
func opsCSRF(page string) string {
	if m := opsCSRFField.FindStringSubmatch(page); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// element finds the opening tag of the element with attrs, each
// `name="value"` as written; "" when there is none.
func opsTag(page, tag string, attrs ...string) string {
	for _, m := range regexp.MustCompile(`<`+tag+`\b[^>]*>`).FindAllString(page, -1) {
		all := true
		for _, a := range attrs {
			all = all && strings.Contains(m, a)
		}
		if all {
			return m
		}
	}
	return ""
}

// attr is the value of attribute name in tag.
func opsAttr(tag, name string) string {
	m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func opsID(n int64) string { return strconv.FormatInt(n, 10) }

// opsJSONString is s inside a JSON string literal.
func opsJSONString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
