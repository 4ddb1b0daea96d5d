package gitremote

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/fault"
)

// http-backend's Status line is the answer's status when it is one HTTP
// has (100 to 599); anything else is a broken answer, not relayed.
func TestReadHeadersStatus(t *testing.T) {
	for block, want := range map[string]int{
		"Content-Type: text/plain\r\n\r\nbody": 200,
		"Status: 404 Not Found\r\n\r\n":        404,
		"Status: 100\r\n\r\n":                  100,
		"Status: 599 Odd\r\n\r\n":              599,
		"Status: 99\r\n\r\n":                   0,
		"Status: 600\r\n\r\n":                  0,
		"Status: two hundred\r\n\r\n":          0,
	} {
		code, h, err := readHeaders(bufio.NewReader(strings.NewReader(block)))
		if want == 0 {
			if err == nil {
				t.Errorf("%q: status %d taken", block, code)
			}
			continue
		}
		if err != nil || code != want || h.Get("Status") != "" {
			t.Errorf("%q: %d %v %v; want %d without a Status header", block, code, h, err, want)
		}
	}
	if _, _, err := readHeaders(bufio.NewReader(strings.NewReader("Content-Type: x\r\n"))); !errors.Is(err, errNoHeaders) {
		t.Errorf("headers cut short: %v", err)
	}
}

// The CGI variables describe the request and no one else: inherited ones
// of the same names are dropped, REMOTE_USER is the token's name only
// when there is one, CONTENT_LENGTH is sent for a POST whose length is
// known.
func TestEnviron(t *testing.T) {
	t.Setenv("REMOTE_USER", "mallory")
	t.Setenv("HTTP_GIT_PROTOCOL", "version=0")
	t.Setenv("VELOCITY_PUSH_LOG", "/tmp/elsewhere")
	vars := func(c cgi, r *http.Request) map[string][]string {
		m := map[string][]string{}
		for _, kv := range c.environ(r, "service=git-upload-pack") {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = append(m[k], v)
		}
		return m
	}
	r := httptest.NewRequest("POST", "/git/p.git/git-upload-pack", strings.NewReader(""))
	r.ContentLength = 0
	r.RemoteAddr = "192.0.2.7:5000"
	env := vars(cgi{dir: "/srv/mirrors/p.git", tail: "/git-upload-pack", user: "alice"}, r)
	for k, want := range map[string]string{
		"REMOTE_USER": "alice", "CONTENT_LENGTH": "0", "REMOTE_ADDR": "192.0.2.7",
		"PATH_INFO": "/p.git/git-upload-pack", "GIT_PROJECT_ROOT": "/srv/mirrors", "REQUEST_METHOD": "POST",
	} {
		if !slices.Equal(env[k], []string{want}) {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"HTTP_GIT_PROTOCOL", "VELOCITY_PUSH_LOG"} {
		if len(env[k]) != 0 {
			t.Errorf("%s inherited: %q", k, env[k])
		}
	}
	g := httptest.NewRequest("GET", "/git/p.git/info/refs?service=git-upload-pack", nil)
	g.RemoteAddr = "192.0.2.7" // no port
	g.Header.Set("Git-Protocol", "version=2")
	env = vars(cgi{dir: "/srv/mirrors/p.git", tail: "/info/refs"}, g)
	for k, want := range map[string][]string{
		"REMOTE_USER": nil, "CONTENT_LENGTH": nil, "REMOTE_ADDR": {"192.0.2.7"}, "HTTP_GIT_PROTOCOL": {"version=2"},
	} {
		if !slices.Equal(env[k], want) {
			t.Errorf("GET without a token: %s = %q, want %q", k, env[k], want)
		}
	}
}

// A project name of up to 100 bytes is served; longer ones are not.
func TestNameLength(t *testing.T) {
	for n, ok := range map[int]bool{100: true, 101: false} {
		name := strings.Repeat("a", n)
		if _, got := parse("/git/"+name+".git/git-upload-pack", url.Values{}); got != ok {
			t.Errorf("a name of %d bytes: served %v, want %v", n, got, ok)
		}
	}
}

// The hook's lines are the refs the push changed; anything else in the
// file is skipped.
func TestReadPushLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	z := strings.Repeat("0", 40)
	a := strings.Repeat("a", 40)
	os.WriteFile(path, []byte(z+" "+a+" refs/heads/main\n\nnoise\n"+a+" "+z+" refs/tags/v1 extra\n"+a+" "+z+" refs/heads/old\n"), 0o644)
	got, err := readPushLog(path)
	want := []RefUpdate{{"refs/heads/main", z, a}, {"refs/heads/old", a, z}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("readPushLog: %+v, %v; want %+v", got, err, want)
	}
	if _, err := readPushLog(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing log read as no refs")
	}
}

// A refusal is plain text git prints; on 401 it carries the Basic
// challenge, and an empty error says the status.
func TestRefuse(t *testing.T) {
	w := httptest.NewRecorder()
	Refuse(w, 401, errors.New("invalid API token"))
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Basic realm="velocity"` || strings.TrimSpace(w.Body.String()) != "invalid API token" {
		t.Errorf("401: %d %v %q", w.Code, w.Header(), w.Body)
	}
	w = httptest.NewRecorder()
	Refuse(w, 403, errors.New(""))
	if w.Code != 403 || w.Header().Get("WWW-Authenticate") != "" || strings.TrimSpace(w.Body.String()) != "Forbidden" {
		t.Errorf("403 with an empty error: %d %v %q", w.Code, w.Header(), w.Body)
	}
	w = httptest.NewRecorder()
	Refuse(w, 429, nil)
	if strings.TrimSpace(w.Body.String()) != "Too Many Requests" {
		t.Errorf("429 without an error: %q", w.Body)
	}
}

// What Repo says about a project decides the answer before git runs: no
// such project 404, a bad one 400 with why, a failure 500 without why;
// a request with the wrong method is told the right one.
func TestHandlerAnswersBeforeGit(t *testing.T) {
	errs := map[string]error{
		"gone":   fault.NotFoundf("no project gone"),
		"bad":    fault.Invalidf("project bad has no repository of its own"),
		"broken": errors.New("disk on fire"),
	}
	h := &Handler{Repo: func(_ context.Context, name string) (string, error) { return "", errs[name] }}
	for _, c := range []struct {
		method, target string
		code           int
		body, allow    string
	}{
		{"GET", "/git/gone.git/info/refs?service=git-upload-pack", 404, "no project gone", ""},
		{"GET", "/git/bad.git/info/refs?service=git-upload-pack", 400, "has no repository of its own", ""},
		{"POST", "/git/broken.git/git-receive-pack", 500, "internal error", ""},
		{"GET", "/git/gone.git/git-receive-pack", 405, "method not allowed", "POST"},
		{"POST", "/git/gone.git/info/refs?service=git-receive-pack", 405, "method not allowed", "GET"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.target, nil))
		if w.Code != c.code || !strings.Contains(w.Body.String(), c.body) || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d %q Allow %q; want %d %q Allow %q", c.method, c.target, w.Code, w.Body, w.Header().Get("Allow"), c.code, c.body, c.allow)
		}
		if strings.Contains(w.Body.String(), "disk on fire") {
			t.Errorf("%s %s: the answer tells the internal error", c.method, c.target)
		}
	}
}

// Git-Protocol takes letters, digits and "=:._-" from one byte on: the
// ends of each range included, the bytes beside them not.
func TestGitProtocolCharacters(t *testing.T) {
	for _, s := range []string{"a", "az", "AZ", "09", "version=2:object-format=sha256", "k.e_y-1"} {
		if !validGitProtocol(s) {
			t.Errorf("validGitProtocol(%q) = false", s)
		}
	}
	for _, s := range []string{"`", "{", "@", "[", "/", ";", "a b", "v=2,x", "é"} {
		if validGitProtocol(s) {
			t.Errorf("validGitProtocol(%q) = true", s)
		}
	}
}

// A post-receive hook in the hooks directory that is not velocity's (an
// older one, or one someone wrote there) is replaced before a push, so
// the push's refs are always reported; velocity's own is left alone.
func TestInstallHookReplacesAForeignHook(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, hooksDir, "post-receive")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\ncurl http://elsewhere\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	hooks, err := installHook(dir)
	if err != nil || hooks != filepath.Join(dir, hooksDir) {
		t.Fatalf("installHook: %q, %v", hooks, err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != hookScript {
		t.Fatalf("the hook after install: %q, %v", b, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("the hook is not executable: %v, %v", fi.Mode(), err)
	}
	// Installed already: the file is not rewritten.
	if _, err := installHook(dir); err != nil {
		t.Fatal(err)
	}
	if again, err := os.Stat(path); err != nil || !os.SameFile(fi, again) {
		t.Errorf("an installed hook was written again")
	}
}
