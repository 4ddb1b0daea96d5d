package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/registry"
)

// client sends requests to a registry under test.
type client struct {
	t   *testing.T
	url string
}

func newRegistry(t *testing.T) (*client, *registry.Storage) {
	t.Helper()
	st, err := registry.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&registry.Handler{Storage: st})
	t.Cleanup(srv.Close)
	return &client{t: t, url: srv.URL}, st
}

func (c *client) do(method, path string, header map[string]string, body string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// want checks a response's status and, when code is not "", the error
// code of its body.
func want(t *testing.T, resp *http.Response, status int, code registry.Code) {
	t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b)
	}
	if code == "" {
		return
	}
	var body struct {
		Errors []struct {
			Code    registry.Code `json:"code"`
			Message string        `json:"message"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code != code {
		t.Fatalf("%s %s: error body %+v (%v), want code %s", resp.Request.Method, resp.Request.URL.Path, body, err, code)
	}
}

func digestOf(s string) string { return registry.Sha256([]byte(s)).String() }

// pushBlob uploads content monolithically into repo.
func (c *client) pushBlob(repo, content string) string {
	c.t.Helper()
	d := digestOf(content)
	resp := c.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d, map[string]string{"Content-Type": "application/octet-stream"}, content)
	want(c.t, resp, http.StatusCreated, "")
	return d
}

func imageManifest(config, layer string) string {
	return fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		registry.MediaOCIManifest, digestOf(config), len(config), digestOf(layer), len(layer))
}

func (c *client) pushImage(repo, tag, config, layer string) string {
	c.t.Helper()
	c.pushBlob(repo, config)
	c.pushBlob(repo, layer)
	m := imageManifest(config, layer)
	resp := c.do("PUT", "/v2/"+repo+"/manifests/"+tag, map[string]string{"Content-Type": registry.MediaOCIManifest}, m)
	want(c.t, resp, http.StatusCreated, "")
	if got := resp.Header.Get("Docker-Content-Digest"); got != digestOf(m) {
		c.t.Fatalf("Docker-Content-Digest %q, want %q", got, digestOf(m))
	}
	return digestOf(m)
}

func TestBaseAnswersVersion(t *testing.T) {
	c, _ := newRegistry(t)
	resp := c.do("GET", "/v2/", nil, "")
	want(t, resp, http.StatusOK, "")
	if v := resp.Header.Get("Docker-Distribution-API-Version"); v != "registry/2.0" {
		t.Fatalf("Docker-Distribution-API-Version %q", v)
	}
}

func TestChunkedUploadRefusesAChunkOutOfOrder(t *testing.T) {
	c, _ := newRegistry(t)
	resp := c.do("POST", "/v2/project/app/blobs/uploads/", nil, "")
	want(t, resp, http.StatusAccepted, "")
	loc := resp.Header.Get("Location")
	resp = c.do("PATCH", loc, map[string]string{"Content-Range": "0-4", "Content-Type": "application/octet-stream"}, "hello")
	want(t, resp, http.StatusAccepted, "")
	if r := resp.Header.Get("Range"); r != "0-4" {
		t.Fatalf("Range %q after 5 bytes, want 0-4", r)
	}
	resp = c.do("PATCH", loc, map[string]string{"Content-Range": "9-11"}, "abc")
	want(t, resp, http.StatusRequestedRangeNotSatisfiable, registry.CodeBlobUploadInvalid)
	resp = c.do("GET", loc, nil, "")
	want(t, resp, http.StatusNoContent, "")
	if r := resp.Header.Get("Range"); r != "0-4" {
		t.Fatalf("Range %q after a refused chunk, want 0-4", r)
	}
	resp = c.do("PUT", loc+"?digest="+digestOf("hello world"), map[string]string{"Content-Range": "5-10"}, " world")
	want(t, resp, http.StatusCreated, "")
	resp = c.do("GET", "/v2/project/app/blobs/"+digestOf("hello world"), map[string]string{"Range": "bytes=6-10"}, "")
	want(t, resp, http.StatusPartialContent, "")
	if b, _ := io.ReadAll(resp.Body); string(b) != "world" {
		t.Fatalf("range read %q", b)
	}
}

func TestUploadWithTheWrongDigestIsRefused(t *testing.T) {
	c, _ := newRegistry(t)
	resp := c.do("POST", "/v2/app/blobs/uploads/?digest="+digestOf("other"), nil, "content")
	want(t, resp, http.StatusBadRequest, registry.CodeDigestInvalid)
	resp = c.do("HEAD", "/v2/app/blobs/"+digestOf("content"), nil, "")
	want(t, resp, http.StatusNotFound, "")
}

func TestManifestWithAMissingBlobIsRefused(t *testing.T) {
	c, _ := newRegistry(t)
	c.pushBlob("app", "config")
	resp := c.do("PUT", "/v2/app/manifests/v1", map[string]string{"Content-Type": registry.MediaOCIManifest}, imageManifest("config", "layer"))
	want(t, resp, http.StatusBadRequest, registry.CodeManifestBlobUnknown)
	resp = c.do("GET", "/v2/app/manifests/v1", nil, "")
	want(t, resp, http.StatusNotFound, registry.CodeManifestUnknown)
}

func TestManifestByTagAndDigest(t *testing.T) {
	c, _ := newRegistry(t)
	d := c.pushImage("project/app", "v1", "config", "layer")
	for _, ref := range []string{"v1", d} {
		resp := c.do("GET", "/v2/project/app/manifests/"+ref, nil, "")
		want(t, resp, http.StatusOK, "")
		if ct := resp.Header.Get("Content-Type"); ct != registry.MediaOCIManifest {
			t.Fatalf("Content-Type %q", ct)
		}
		if got := resp.Header.Get("Docker-Content-Digest"); got != d {
			t.Fatalf("Docker-Content-Digest %q, want %q", got, d)
		}
	}
	// The blob of another repository is not this one's.
	resp := c.do("GET", "/v2/other/blobs/"+digestOf("layer"), nil, "")
	want(t, resp, http.StatusNotFound, registry.CodeBlobUnknown)
	resp = c.do("DELETE", "/v2/project/app/manifests/"+d, nil, "")
	want(t, resp, http.StatusAccepted, "")
	resp = c.do("GET", "/v2/project/app/manifests/v1", nil, "")
	want(t, resp, http.StatusNotFound, registry.CodeManifestUnknown)
}

func TestManifestOverTheLimitIsRefused(t *testing.T) {
	c, _ := newRegistry(t)
	big := `{"schemaVersion":2,"annotations":{"a":"` + strings.Repeat("x", registry.MaxManifest) + `"}}`
	resp := c.do("PUT", "/v2/app/manifests/v1", map[string]string{"Content-Type": registry.MediaOCIManifest}, big)
	want(t, resp, http.StatusRequestEntityTooLarge, registry.CodeSizeInvalid)
}

func TestInvalidNamesAreRefused(t *testing.T) {
	c, _ := newRegistry(t)
	for _, name := range []string{"App", "a//b", "-a", "a/_b", strings.Repeat("a", 256)} {
		resp := c.do("GET", "/v2/"+name+"/tags/list", nil, "")
		want(t, resp, http.StatusBadRequest, registry.CodeNameInvalid)
	}
}

func TestTagsListPages(t *testing.T) {
	c, _ := newRegistry(t)
	for _, tag := range []string{"c", "a", "b"} {
		c.pushImage("app", tag, "config", "layer")
	}
	resp := c.do("GET", "/v2/app/tags/list?n=2", nil, "")
	want(t, resp, http.StatusOK, "")
	var list struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	json.NewDecoder(resp.Body).Decode(&list)
	if fmt.Sprint(list.Tags) != "[a b]" || !strings.Contains(resp.Header.Get("Link"), "last=b") {
		t.Fatalf("first page %v, Link %q", list.Tags, resp.Header.Get("Link"))
	}
	resp = c.do("GET", "/v2/app/tags/list?n=2&last=b", nil, "")
	json.NewDecoder(resp.Body).Decode(&list)
	if fmt.Sprint(list.Tags) != "[c]" || resp.Header.Get("Link") != "" {
		t.Fatalf("second page %v, Link %q", list.Tags, resp.Header.Get("Link"))
	}
	resp = c.do("GET", "/v2/unknown/tags/list", nil, "")
	want(t, resp, http.StatusNotFound, registry.CodeNameUnknown)
	resp = c.do("GET", "/v2/_catalog", nil, "")
	var cat struct {
		Repositories []string `json:"repositories"`
	}
	json.NewDecoder(resp.Body).Decode(&cat)
	if fmt.Sprint(cat.Repositories) != "[app]" {
		t.Fatalf("catalog %v", cat.Repositories)
	}
}

func TestMountFallsBackToAnUpload(t *testing.T) {
	c, _ := newRegistry(t)
	d := c.pushBlob("one", "shared")
	resp := c.do("POST", "/v2/two/blobs/uploads/?mount="+d+"&from=one", nil, "")
	want(t, resp, http.StatusCreated, "")
	resp = c.do("POST", "/v2/three/blobs/uploads/?mount="+digestOf("absent")+"&from=one", nil, "")
	want(t, resp, http.StatusAccepted, "")
	if resp.Header.Get("Location") == "" {
		t.Fatal("no upload session after a failed mount")
	}
}

func TestCollectKeepsTaggedAndKeptManifests(t *testing.T) {
	c, st := newRegistry(t)
	tagged := c.pushImage("app", "v1", "config", "tagged-layer")
	kept := c.pushImage("app", "v2", "config", "kept-layer")
	dropped := c.pushImage("app", "v3", "config", "dropped-layer")
	for _, tag := range []string{"v2", "v3"} {
		want(t, c.do("DELETE", "/v2/app/manifests/"+tag, nil, ""), http.StatusAccepted, "")
	}
	ctx := context.Background()
	// Young content stays, whatever references it.
	got, err := st.Collect(ctx, registry.Collection{})
	if err != nil || got.Manifests != 0 || got.Blobs != 0 {
		t.Fatalf("young content collected: %+v, %v", got, err)
	}
	got, err = st.Collect(ctx, registry.Collection{
		Now:  time.Now().Add(2 * registry.DefaultGrace),
		Keep: func(repo, d string) bool { return repo == "app" && d == kept },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifests != 1 || got.Blobs != 2 { // the manifest and its layer
		t.Fatalf("collected %+v, want 1 manifest and 2 blobs", got)
	}
	for d, status := range map[string]int{tagged: 200, kept: 200, dropped: 404} {
		want(t, c.do("HEAD", "/v2/app/manifests/"+d, nil, ""), status, "")
	}
	want(t, c.do("GET", "/v2/app/blobs/"+digestOf("kept-layer"), nil, ""), http.StatusOK, "")
	want(t, c.do("GET", "/v2/app/blobs/"+digestOf("dropped-layer"), nil, ""), http.StatusNotFound, "")
	if _, err := os.Stat(filepath.Join(st.Dir(), "blobs", "sha256", digestOf("dropped-layer")[7:9], digestOf("dropped-layer")[7:])); !os.IsNotExist(err) {
		t.Fatalf("content of the dropped layer still stored: %v", err)
	}
}

// A release records the image ID a Docker Engine gave it, which is the
// digest of the image's config: that keeps its manifest too.
func TestCollectKeepsAManifestByItsConfig(t *testing.T) {
	c, st := newRegistry(t)
	byConfig := c.pushImage("app", "v1", "release-config", "release-layer")
	dropped := c.pushImage("app", "v2", "other-config", "other-layer")
	for _, tag := range []string{"v1", "v2"} {
		want(t, c.do("DELETE", "/v2/app/manifests/"+tag, nil, ""), http.StatusAccepted, "")
	}
	got, err := st.Collect(context.Background(), registry.Collection{
		Now:  time.Now().Add(2 * registry.DefaultGrace),
		Keep: func(_, d string) bool { return d == digestOf("release-config") },
	})
	if err != nil || got.Manifests != 1 {
		t.Fatalf("collected %+v (%v), want 1 manifest", got, err)
	}
	want(t, c.do("HEAD", "/v2/app/manifests/"+byConfig, nil, ""), http.StatusOK, "")
	want(t, c.do("HEAD", "/v2/app/manifests/"+dropped, nil, ""), http.StatusNotFound, "")
}

func TestUploadOutlivesARestart(t *testing.T) {
	dir := t.TempDir()
	serve := func() *client {
		st, err := registry.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(&registry.Handler{Storage: st})
		t.Cleanup(srv.Close)
		return &client{t: t, url: srv.URL}
	}
	before := serve()
	resp := before.do("POST", "/v2/app/blobs/uploads/", nil, "")
	loc := resp.Header.Get("Location")
	want(t, before.do("PATCH", loc, nil, "first half, "), http.StatusAccepted, "")
	// Another process (the server started again) finishes it; it has no
	// running sum of the upload and reads what is stored instead.
	after := serve()
	want(t, after.do("PUT", loc+"?digest="+digestOf("first half, second half"), nil, "second half"), http.StatusCreated, "")
	resp = after.do("GET", "/v2/app/blobs/"+digestOf("first half, second half"), nil, "")
	if b, _ := io.ReadAll(resp.Body); string(b) != "first half, second half" {
		t.Fatalf("blob %q", b)
	}
}

func TestUploadsInProgressAreBounded(t *testing.T) {
	c, _ := newRegistry(t)
	for range registry.MaxUploads {
		want(t, c.do("POST", "/v2/app/blobs/uploads/", nil, ""), http.StatusAccepted, "")
	}
	want(t, c.do("POST", "/v2/app/blobs/uploads/", nil, ""), http.StatusTooManyRequests, registry.CodeTooManyRequests)
}

func TestCollectFollowsIndexesAndSubjects(t *testing.T) {
	c, st := newRegistry(t)
	child := c.pushImage("app", "child", "config", "layer")
	image := imageManifest("config", "layer")
	index := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		registry.MediaOCIIndex, registry.MediaOCIManifest, child, len(image))
	want(t, c.do("PUT", "/v2/app/manifests/multi", map[string]string{"Content-Type": registry.MediaOCIIndex}, index), http.StatusCreated, "")
	c.pushBlob("app", "{}")
	signature := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":"application/example.signature","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`,
		registry.MediaOCIManifest, digestOf("{}"), registry.MediaOCIManifest, child, len(image))
	resp := c.do("PUT", "/v2/app/manifests/"+digestOf(signature), map[string]string{"Content-Type": registry.MediaOCIManifest}, signature)
	want(t, resp, http.StatusCreated, "")
	if resp.Header.Get("OCI-Subject") != child {
		t.Fatalf("OCI-Subject %q, want %q", resp.Header.Get("OCI-Subject"), child)
	}
	// The child loses its own tag: the tagged index keeps it, and it
	// keeps the signature that refers to it.
	want(t, c.do("DELETE", "/v2/app/manifests/child", nil, ""), http.StatusAccepted, "")
	got, err := st.Collect(context.Background(), registry.Collection{Now: time.Now().Add(2 * registry.DefaultGrace)})
	if err != nil || got.Manifests != 0 {
		t.Fatalf("collected %+v (%v), want nothing", got, err)
	}
	resp = c.do("GET", "/v2/app/referrers/"+child, nil, "")
	want(t, resp, http.StatusOK, "")
	var refs struct {
		Manifests []registry.Descriptor `json:"manifests"`
	}
	json.NewDecoder(resp.Body).Decode(&refs)
	if len(refs.Manifests) != 1 || refs.Manifests[0].ArtifactType != "application/example.signature" {
		t.Fatalf("referrers %+v", refs.Manifests)
	}
	// Without the index's tag, all three go.
	want(t, c.do("DELETE", "/v2/app/manifests/multi", nil, ""), http.StatusAccepted, "")
	got, err = st.Collect(context.Background(), registry.Collection{Now: time.Now().Add(2 * registry.DefaultGrace)})
	if err != nil || got.Manifests != 3 {
		t.Fatalf("collected %+v (%v), want the index, the image and the signature", got, err)
	}
	// Nothing is left of the repository.
	resp = c.do("GET", "/v2/_catalog", nil, "")
	if b, _ := io.ReadAll(resp.Body); string(b) != `{"repositories":[]}` {
		t.Fatalf("catalog after everything was collected: %s", b)
	}
}

func TestDockerMediaTypes(t *testing.T) {
	c, _ := newRegistry(t)
	c.pushBlob("app", "config")
	c.pushBlob("app", "layer")
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":%q,"size":6},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":%q,"size":5}]}`,
		registry.MediaDockerManifest, digestOf("config"), digestOf("layer"))
	want(t, c.do("PUT", "/v2/app/manifests/amd64", map[string]string{"Content-Type": registry.MediaDockerManifest}, m), http.StatusCreated, "")
	list := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"amd64","os":"linux"}}]}`,
		registry.MediaDockerList, registry.MediaDockerManifest, digestOf(m), len(m))
	want(t, c.do("PUT", "/v2/app/manifests/latest", map[string]string{"Content-Type": registry.MediaDockerList}, list), http.StatusCreated, "")
	resp := c.do("GET", "/v2/app/manifests/latest", nil, "")
	if ct := resp.Header.Get("Content-Type"); ct != registry.MediaDockerList {
		t.Fatalf("Content-Type %q, want the list's", ct)
	}
	// Schema 1, signed and long deprecated, is not stored.
	v1 := `{"schemaVersion":1,"name":"app","tag":"old","fsLayers":[]}`
	want(t, c.do("PUT", "/v2/app/manifests/old", map[string]string{"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"}, v1), http.StatusBadRequest, registry.CodeManifestInvalid)
	// Header and body must agree on what the manifest is.
	want(t, c.do("PUT", "/v2/app/manifests/mixed", map[string]string{"Content-Type": registry.MediaOCIManifest}, m), http.StatusBadRequest, registry.CodeManifestInvalid)
}

// A chunk says where it goes in Content-Range; one that cannot be read,
// or that disagrees with its own length, is refused with 416 and the
// upload keeps what it had.
func TestChunkWithABadContentRangeIsRefused(t *testing.T) {
	c, _ := newRegistry(t)
	for _, cr := range []string{"5", "a-4", "0-b", "4-3", "-1-3", "0-9", "1-5", "bytes 0-3"} {
		t.Run(cr, func(t *testing.T) {
			resp := c.do("POST", "/v2/app/blobs/uploads/", nil, "")
			loc := resp.Header.Get("Location")
			resp = c.do("PATCH", loc, map[string]string{"Content-Range": cr}, "hello")
			want(t, resp, http.StatusRequestedRangeNotSatisfiable, registry.CodeBlobUploadInvalid)
			resp = c.do("GET", loc, nil, "")
			want(t, resp, http.StatusNoContent, "")
			if r := resp.Header.Get("Range"); r != "0-0" && r != "" {
				t.Fatalf("Range %q after a refused first chunk, want none", r)
			}
		})
	}
	// The prefix "bytes " is allowed, as some clients send it.
	resp := c.do("POST", "/v2/app/blobs/uploads/", nil, "")
	loc := resp.Header.Get("Location")
	want(t, c.do("PATCH", loc, map[string]string{"Content-Range": "bytes 0-4"}, "hello"), http.StatusAccepted, "")
}
