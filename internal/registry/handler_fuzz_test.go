package registry_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/registry"
)

// FuzzHandler sends the handler arbitrary requests: whatever arrives,
// it answers with a status of the specification, never a panic or an
// internal error.
func FuzzHandler(f *testing.F) {
	st, err := registry.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	h := &registry.Handler{Storage: st}
	f.Add("PUT", "/v2/a/manifests/v1", registry.MediaOCIManifest, "", `{"schemaVersion":2,"config":{"digest":"sha256:`+strings.Repeat("0", 64)+`"}}`)
	f.Add("POST", "/v2/a/b/blobs/uploads/?digest=sha256:"+strings.Repeat("a", 64), "", "", "x")
	f.Add("PATCH", "/v2/a/blobs/uploads/"+strings.Repeat("0", 32), "", "0-0", "x")
	f.Add("GET", "/v2/a/tags/list?n=-1&last=%ff", "", "", "")
	f.Add("GET", "/v2/_catalog?n=1", "", "", "")
	f.Add("GET", "/v2/a/referrers/sha512:"+strings.Repeat("0", 128)+"?artifactType=x", "", "", "")
	f.Fuzz(func(t *testing.T, method, target, contentType, contentRange, body string) {
		if !strings.HasPrefix(target, "/") {
			return
		}
		req, err := http.NewRequest(method, "http://registry"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Content-Range", contentRange)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
		}
	})
}
