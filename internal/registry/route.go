package registry

import (
	"net/http"
	"strings"

	"github.com/velocity-ci/velocity/internal/access"
)

// Prefix starts every path of the API.
const Prefix = "/v2/"

// kind is what a path of the API names.
type kind int

const (
	kindNone kind = iota
	kindBase
	kindCatalog
	kindTags
	kindManifest
	kindBlob
	kindUploads // POST …/blobs/uploads/
	kindUpload  // …/blobs/uploads/ID
	kindReferrers
)

// target is a request's path, read: what it names, in which repository.
type target struct {
	kind kind
	name string
	// ref is the tag or digest of a manifest, the digest of a blob or a
	// subject, or an upload's ID.
	ref string
}

// parsePath reads a path of the API. Repository names have slashes of
// their own, so the path is read from its end, where the route's fixed
// words are. ok is false for a path that is no route of the API.
func parsePath(p string) (target, bool) {
	rest, ok := strings.CutPrefix(p, Prefix)
	switch {
	case !ok:
		return target{}, false
	case rest == "":
		return target{kind: kindBase}, true
	case rest == "_catalog":
		return target{kind: kindCatalog}, true
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return target{kind: kindTags, name: name}, true
	}
	if name, ok := strings.CutSuffix(rest, "/blobs/uploads/"); ok {
		return target{kind: kindUploads, name: name}, true
	}
	if name, ok := strings.CutSuffix(rest, "/blobs/uploads"); ok {
		return target{kind: kindUploads, name: name}, true
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return target{}, false
	}
	head, ref := rest[:i], rest[i+1:]
	if ref == "" {
		return target{}, false
	}
	for _, r := range []struct {
		word string
		kind kind
	}{{"/blobs/uploads", kindUpload}, {"/manifests", kindManifest}, {"/blobs", kindBlob}, {"/referrers", kindReferrers}} {
		if name, ok := strings.CutSuffix(head, r.word); ok {
			return target{kind: r.kind, name: name, ref: ref}, true
		}
	}
	return target{}, false
}

// Match reports whether r is for the registry's API.
func Match(r *http.Request) bool {
	return r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, Prefix)
}

// RoleOf names the route r is for ("registry pull NAME", "registry push
// NAME") and the role it needs: viewer to read, developer to push or
// delete.
func RoleOf(r *http.Request) (string, access.Role) {
	t, _ := parsePath(r.URL.Path)
	name := t.name
	if name == "" {
		name = "/"
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return "registry pull " + name, access.Viewer
	case http.MethodDelete:
		return "registry delete " + name, access.Developer
	}
	return "registry push " + name, access.Developer
}

// Refuse answers a request the guard refuses, in the specification's
// error format; a refusal for want of credentials carries the challenge
// docker login answers with HTTP basic auth (any user name, a token as
// the password).
func Refuse(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	c := CodeDenied
	switch code {
	case http.StatusUnauthorized:
		c = CodeUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="velocity"`)
	case http.StatusTooManyRequests:
		c = CodeTooManyRequests
	}
	msg := http.StatusText(code)
	if err != nil && err.Error() != "" {
		msg = err.Error()
	}
	writeCode(w, code, c, msg)
}
