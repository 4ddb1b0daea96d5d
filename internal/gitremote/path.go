package gitremote

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/velocity-ci/velocity/internal/access"
)

// Prefix is the path under which the git remote answers.
const Prefix = "/git/"

// The two services of git's smart HTTP protocol.
const (
	uploadPack  = "git-upload-pack"  // fetch and clone
	receivePack = "git-receive-pack" // push
)

// request is what a request's path and query ask of the git remote.
type request struct {
	name    string // the project
	service string // uploadPack or receivePack
	// advertise is the first request of a fetch or push (GET
	// info/refs?service=…); otherwise it is the exchange (POST SERVICE).
	advertise bool
}

// method is the HTTP method the request must come with.
func (q request) method() string {
	if q.advertise {
		return http.MethodGet
	}
	return http.MethodPost
}

// tail is the path of the request inside the repository.
func (q request) tail() string {
	if q.advertise {
		return "/info/refs"
	}
	return "/" + q.service
}

// parse reads a git remote path: /git/NAME.git/info/refs?service=SERVICE,
// /git/NAME.git/SERVICE, with or without ".git". Anything else (git's
// dumb protocol, other files of the repository) is not served.
func parse(path string, query url.Values) (request, bool) {
	rest, ok := strings.CutPrefix(path, Prefix)
	if !ok {
		return request{}, false
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return request{}, false
	}
	name, tail := strings.TrimSuffix(rest[:i], ".git"), rest[i:]
	if !validName(name) {
		return request{}, false
	}
	switch tail {
	case "/info/refs":
		s := query.Get("service")
		if s != uploadPack && s != receivePack {
			return request{}, false
		}
		return request{name: name, service: s, advertise: true}, true
	case "/" + uploadPack, "/" + receivePack:
		return request{name: name, service: tail[1:]}, true
	}
	return request{}, false
}

// validName accepts a project name that can only name a directory of
// its own: no separators, no "..", no leading dot or dash, no control
// characters, at most 100 bytes.
func validName(name string) bool {
	return name != "" && len(name) <= 100 && !strings.ContainsAny(name, `/\`) &&
		!strings.Contains(name, "..") && name[0] != '.' && name[0] != '-' &&
		!strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\uFFFD' })
}

// Match reports whether r is for the git remote (its path is under
// /git/), to route it here rather than to the API.
func Match(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, Prefix)
}

// RoleOf names the route r is for ("git push NAME", "git fetch NAME") and
// the role it needs: developer for both requests of a push, viewer for
// fetches and clones. A path that is not the git remote's is "git" for
// viewers, who then learn it does not exist.
func RoleOf(r *http.Request) (string, access.Role) {
	q, ok := parse(r.URL.Path, r.URL.Query())
	switch {
	case !ok:
		return "git", access.Viewer
	case q.service == receivePack:
		return "git push " + q.name, access.Developer
	}
	return "git fetch " + q.name, access.Viewer
}
