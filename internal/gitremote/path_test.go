package gitremote

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/access"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		path, query string
		want        request
		ok          bool
	}{
		{"/git/p.git/info/refs", "service=git-upload-pack", request{"p", uploadPack, true}, true},
		{"/git/p/info/refs", "service=git-receive-pack", request{"p", receivePack, true}, true},
		{"/git/my-app.v2.git/git-upload-pack", "", request{"my-app.v2", uploadPack, false}, true},
		{"/git/p.git/git-receive-pack", "service=git-upload-pack", request{"p", receivePack, false}, true},
		{"/git/p.git/info/refs", "", request{}, false},
		{"/git/p.git/info/refs", "service=git-upload-archive", request{}, false},
		{"/git/p.git/HEAD", "", request{}, false},
		{"/git/p.git/objects/12/3456", "", request{}, false},
		{"/git/p.git", "", request{}, false},
		{"/git/.git/git-upload-pack", "", request{}, false},
		{"/git/../git-upload-pack", "", request{}, false},
		{"/git/..git/git-upload-pack", "", request{}, false},
		{"/git/a/b.git/git-upload-pack", "", request{}, false},
		{"/git/.hidden/git-upload-pack", "", request{}, false},
		{"/git/-x/git-upload-pack", "", request{}, false},
		{"/git/a\x00b/git-upload-pack", "", request{}, false},
		{"/api/v1/git/p.git/git-upload-pack", "", request{}, false},
	} {
		q, _ := url.ParseQuery(c.query)
		got, ok := parse(c.path, q)
		if ok != c.ok || got != c.want {
			t.Errorf("parse(%q, %q) = %+v, %v; want %+v, %v", c.path, c.query, got, ok, c.want, c.ok)
		}
	}
}

func TestRoleOf(t *testing.T) {
	for _, c := range []struct {
		method, target string
		route          string
		role           access.Role
	}{
		{"GET", "/git/p.git/info/refs?service=git-upload-pack", "git fetch p", access.Viewer},
		{"POST", "/git/p.git/git-upload-pack", "git fetch p", access.Viewer},
		{"GET", "/git/p.git/info/refs?service=git-receive-pack", "git push p", access.Developer},
		{"POST", "/git/p/git-receive-pack", "git push p", access.Developer},
		{"GET", "/git/p.git/HEAD", "git", access.Viewer},
	} {
		r, _ := http.NewRequest(c.method, "http://h"+c.target, nil)
		route, role := RoleOf(r)
		if route != c.route || role != c.role || !Match(r) {
			t.Errorf("%s %s: %q %q (match %v), want %q %q", c.method, c.target, route, role, Match(r), c.route, c.role)
		}
	}
}

// Whatever a client sends, a path the handler serves names one directory
// right under the repositories' root, and a push never passes for a
// fetch.
func FuzzParse(f *testing.F) {
	f.Add("/git/p.git/info/refs", "service=git-receive-pack")
	f.Add("/git/p/git-upload-pack", "")
	f.Add("/git/../etc/git-upload-pack", "")
	f.Add("/git/a%2fb.git/info/refs", "service=git-upload-pack&service=git-receive-pack")
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		query, _ := url.ParseQuery(rawQuery)
		q, ok := parse(path, query)
		r := &http.Request{Method: "GET", URL: &url.URL{Path: path, RawQuery: rawQuery}}
		route, role := RoleOf(r)
		if !ok {
			if role != access.Viewer || route != "git" {
				t.Fatalf("an unserved path %q needs %q as %q", path, role, route)
			}
			return
		}
		root := "/srv/mirrors"
		dir := filepath.Join(root, q.name+".git")
		if filepath.Dir(dir) != root || strings.ContainsAny(q.name, "/\\\x00") || strings.HasPrefix(q.name, ".") {
			t.Fatalf("name %q from %q leaves the root: %s", q.name, path, dir)
		}
		if (q.service == receivePack) != (role == access.Developer) {
			t.Fatalf("%q?%q: service %s, role %s", path, rawQuery, q.service, role)
		}
		if q.service != uploadPack && q.service != receivePack {
			t.Fatalf("service %q", q.service)
		}
	})
}

func TestValidGitProtocol(t *testing.T) {
	for s, want := range map[string]bool{
		"version=2": true, "version=2:object-format=sha256": true, "": false,
		"version=2\r\nX-Evil: 1": false, "a b": false, strings.Repeat("a", 256): true, strings.Repeat("a", 257): false,
	} {
		if got := validGitProtocol(s); got != want {
			t.Errorf("validGitProtocol(%q) = %v, want %v", s, got, want)
		}
	}
}
