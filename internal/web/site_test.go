package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/mirror"
	"github.com/velocity-ci/velocity/internal/projects"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// fixture is a Site over real services on a fresh data directory: the
// SQLite journal, the runs service with the local executor, projects
// with git mirrors, tokens; served by an HTTP server.
type fixture struct {
	t      *testing.T
	store  *sqlite.Store
	access *access.Service
	runs   *runs.Service
	site   *Site
	srv    *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	data := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(data, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := artifact.OpenBlobs(filepath.Join(data, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rs := runs.New(runs.Config{
		Store: st, Leases: st, DataDir: data, Blobs: blobs, Version: "test", Environ: os.Environ(),
		NewExecutor: func() (runs.Executor, error) { return local.New() },
		Logger:      quiet,
	})
	ps := projects.New(projects.Config{Store: st, Runs: rs, Mirrors: mirror.Mirrors{Dir: filepath.Join(data, "mirrors")},
		Template: runs.StartRequest{Jobs: 2}, Log: quiet})
	f := &fixture{t: t, store: st, access: access.New(access.Config{Store: st}), runs: rs}
	f.site = &Site{Runs: rs, Projects: ps, Access: f.access, Key: []byte("0123456789abcdef0123456789abcdef"), Log: quiet}
	f.srv = httptest.NewServer(f.site.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// token makes a token with role and returns its secret.
func (f *fixture) token(name string, role access.Role) string {
	f.t.Helper()
	secret, err := f.access.Create(context.Background(), name, role)
	if err != nil {
		f.t.Fatal(err)
	}
	return secret
}

// client is a browser: it keeps cookies and does not follow redirects,
// so that tests see them.
func (f *fixture) client() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login is a browser logged in with a new token of role.
func (f *fixture) login(name string, role access.Role) *http.Client {
	f.t.Helper()
	c := f.client()
	res := f.post(c, "/login", url.Values{"token": {f.token(name, role)}})
	if res.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("login as %s: %s", name, res.Status)
	}
	return c
}

func (f *fixture) get(c *http.Client, path string) (*http.Response, string) {
	f.t.Helper()
	res, err := c.Get(f.srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return res, string(body)
}

func (f *fixture) post(c *http.Client, path string, form url.Values) *http.Response {
	f.t.Helper()
	res, err := c.PostForm(f.srv.URL+path, form)
	if err != nil {
		f.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token the page at path gives c's forms.
func (f *fixture) csrf(c *http.Client, path string) string {
	f.t.Helper()
	_, body := f.get(c, path)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		f.t.Fatalf("%s has no CSRF field", path)
	}
	return m[1]
}

// start starts a run of the pipeline yml in a new directory.
func (f *fixture) start(yml string, req runs.StartRequest) int64 {
	f.t.Helper()
	dir := f.t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "velocity.yml"), []byte(yml), 0o644); err != nil {
		f.t.Fatal(err)
	}
	req.Dir, req.Jobs = dir, 2
	id, err := f.runs.Start(context.Background(), req)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// wait waits for run id to end.
func (f *fixture) wait(id int64) runs.Result {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := f.runs.Wait(ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// eventually polls cond until it holds or 30 s pass.
func (f *fixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	f.t.Fatalf("timed out waiting until %s", what)
}

func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git not installed")
		}
		t.Skip("git not installed")
	}
}

func contains(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}
