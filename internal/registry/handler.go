package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Limits of the API.
const (
	// maxPage is the most tags or repositories one listing returns,
	// whatever n asks for.
	maxPage = 10000
	// UploadTimeout is how long one request may take to send its
	// body once admitted: a layer of gigabytes over a slow link.
	UploadTimeout = time.Hour
)

// Handler serves the OCI Distribution API over a Storage. It checks no
// credentials: whoever serves it puts it behind what does.
type Handler struct {
	Storage *Storage
	Log     *slog.Logger
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.URL.Path == "/v2" {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	t, ok := parsePath(r.URL.Path)
	if !ok {
		writeCode(w, http.StatusNotFound, CodeNameUnknown, "no route of the registry's API")
		return
	}
	if t.kind != kindBase && t.kind != kindCatalog && !ValidName(t.name) {
		writeCode(w, http.StatusBadRequest, CodeNameInvalid,
			"repository name: lowercase letters and digits, separated by '.', '_', '__' or '-' and joined by '/', at most 255 characters")
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		// An admitted upload may take longer than an API request's body.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(UploadTimeout))
	}
	err := h.serve(w, r, t)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			h.log().Error("registry request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		writeError(w, err)
	}
}

// errMethod answers a method the route does not have.
func errMethod(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return fail(http.StatusMethodNotAllowed, CodeUnsupported, "method not allowed here; allowed: %s", allow)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, t target) error {
	m := r.Method
	switch t.kind {
	case kindBase:
		if m != http.MethodGet && m != http.MethodHead {
			return errMethod(w, "GET, HEAD")
		}
		return writeJSON(w, r, http.StatusOK, "application/json", struct{}{})
	case kindCatalog:
		if m != http.MethodGet {
			return errMethod(w, "GET")
		}
		return h.catalog(w, r)
	case kindTags:
		if m != http.MethodGet {
			return errMethod(w, "GET")
		}
		return h.tagList(w, r, t.name)
	case kindManifest:
		switch m {
		case http.MethodGet, http.MethodHead:
			return h.getManifest(w, r, t)
		case http.MethodPut:
			return h.putManifest(w, r, t)
		case http.MethodDelete:
			return h.deleteManifest(w, t)
		}
		return errMethod(w, "GET, HEAD, PUT, DELETE")
	case kindBlob:
		d, err := ParseDigest(t.ref)
		if err != nil {
			return fail(http.StatusBadRequest, CodeDigestInvalid, "%v", err)
		}
		switch m {
		case http.MethodGet, http.MethodHead:
			return h.getBlob(w, r, t.name, d)
		case http.MethodDelete:
			if err := h.Storage.deleteBlob(t.name, d); err != nil {
				return err
			}
			w.WriteHeader(http.StatusAccepted)
			return nil
		}
		return errMethod(w, "GET, HEAD, DELETE")
	case kindUploads:
		if m != http.MethodPost {
			return errMethod(w, "POST")
		}
		return h.startUpload(w, r, t.name)
	case kindUpload:
		switch m {
		case http.MethodGet:
			size, err := h.Storage.uploadSize(t.name, t.ref)
			if err != nil {
				return err
			}
			uploadHeaders(w, t.name, t.ref, size)
			w.WriteHeader(http.StatusNoContent)
			return nil
		case http.MethodPatch:
			return h.patchUpload(w, r, t)
		case http.MethodPut:
			return h.finishUpload(w, r, t)
		case http.MethodDelete:
			if err := h.Storage.cancelUpload(t.name, t.ref); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return errMethod(w, "GET, PATCH, PUT, DELETE")
	case kindReferrers:
		if m != http.MethodGet {
			return errMethod(w, "GET")
		}
		return h.referrers(w, r, t)
	}
	return fail(http.StatusNotFound, CodeNameUnknown, "no route of the registry's API")
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, contentType string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
	return nil
}

// page reads the n and last parameters of a listing: at most n entries
// (maxPage when absent) after last.
func page(r *http.Request) (int, string, error) {
	q := r.URL.Query()
	n := maxPage
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, "", fail(http.StatusBadRequest, CodeUnsupported, "n=%.20q: want a number of entries", s)
		}
		n = min(v, maxPage)
	}
	return n, q.Get("last"), nil
}

// cut returns at most n of the sorted list after last, and whether
// entries follow.
func cut(list []string, n int, last string) ([]string, bool) {
	i := 0
	if last != "" {
		for i < len(list) && list[i] <= last {
			i++
		}
	}
	list = list[i:]
	if len(list) > n {
		return list[:n], true
	}
	return list, false
}

// next sets the Link header to the listing's following page.
func next(w http.ResponseWriter, path string, n int, last string) {
	q := url.Values{"n": {strconv.Itoa(n)}, "last": {last}}
	w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, path, q.Encode()))
}

func (h *Handler) catalog(w http.ResponseWriter, r *http.Request) error {
	n, last, err := page(r)
	if err != nil {
		return err
	}
	repos, err := h.Storage.Repositories()
	if err != nil {
		return err
	}
	list, more := cut(repos, n, last)
	if more && len(list) > 0 {
		next(w, r.URL.Path, n, list[len(list)-1])
	}
	return writeJSON(w, r, http.StatusOK, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{orEmpty(list)})
}

func (h *Handler) tagList(w http.ResponseWriter, r *http.Request, name string) error {
	n, last, err := page(r)
	if err != nil {
		return err
	}
	tags, err := h.Storage.tags(name)
	if err != nil {
		return err
	}
	list, more := cut(tags, n, last)
	if more && len(list) > 0 {
		next(w, r.URL.Path, n, list[len(list)-1])
	}
	return writeJSON(w, r, http.StatusOK, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, orEmpty(list)})
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// reference checks a manifest reference: a tag or a digest.
func reference(ref string) error {
	if strings.Contains(ref, ":") {
		if _, err := ParseDigest(ref); err != nil {
			return fail(http.StatusBadRequest, CodeDigestInvalid, "%v", err)
		}
		return nil
	}
	if !ValidTag(ref) {
		return fail(http.StatusBadRequest, CodeManifestInvalid, "tag %.140q: letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128", ref)
	}
	return nil
}

func (h *Handler) getManifest(w http.ResponseWriter, r *http.Request, t target) error {
	if err := reference(t.ref); err != nil {
		return err
	}
	d, err := h.Storage.resolve(t.name, t.ref)
	if err != nil {
		return err
	}
	content, mt, err := h.Storage.manifest(t.name, d)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", mt)
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("ETag", `"`+d.String()+`"`)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(content)
	}
	return nil
}

func (h *Handler) putManifest(w http.ResponseWriter, r *http.Request, t target) error {
	if err := reference(t.ref); err != nil {
		return err
	}
	content, err := io.ReadAll(io.LimitReader(r.Body, MaxManifest+1))
	if err != nil {
		return bodyError(err)
	}
	m, err := parseManifest(r.Header.Get("Content-Type"), content)
	if err != nil {
		return err
	}
	d := Sha256(content)
	var tags []string
	if want, err := ParseDigest(t.ref); err == nil {
		if want.alg != d.alg {
			h := want.newHash()
			h.Write(content)
			d = sumOf(want.alg, h)
		}
		if d != want {
			return fail(http.StatusBadRequest, CodeDigestInvalid, "manifest has digest %s, not %s", d, want)
		}
	} else {
		tags = append(tags, t.ref)
	}
	for _, tag := range r.URL.Query()["tag"] {
		if !ValidTag(tag) {
			return fail(http.StatusBadRequest, CodeManifestInvalid, "tag %.140q is not a valid tag", tag)
		}
		tags = append(tags, tag)
	}
	for _, b := range m.blobs {
		if !h.Storage.hasBlob(t.name, b) {
			return fail(http.StatusBadRequest, CodeManifestBlobUnknown, "blob %s is not in repository %s: push it first", b, t.name)
		}
	}
	for _, c := range m.children {
		if !h.Storage.hasManifest(t.name, c) {
			return fail(http.StatusBadRequest, CodeManifestBlobUnknown, "manifest %s is not in repository %s: push it first", c, t.name)
		}
	}
	if err := h.Storage.putManifest(t.name, d, m.mediaType, content, tags); err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+t.name+"/manifests/"+d.String())
	w.Header().Set("Docker-Content-Digest", d.String())
	if !m.subject.IsZero() {
		w.Header().Set("OCI-Subject", m.subject.String())
	}
	for _, tag := range tags {
		w.Header().Add("OCI-Tag", tag)
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (h *Handler) deleteManifest(w http.ResponseWriter, t target) error {
	if err := reference(t.ref); err != nil {
		return err
	}
	var err error
	if d, perr := ParseDigest(t.ref); perr == nil {
		err = h.Storage.deleteManifest(t.name, d)
	} else {
		err = h.Storage.deleteTag(t.name, t.ref)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (h *Handler) getBlob(w http.ResponseWriter, r *http.Request, name string, d Digest) error {
	f, err := h.Storage.openBlob(name, d)
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+d.String()+`"`)
	// ServeContent answers HEAD and Range requests; blobs never change,
	// so their modification time says nothing.
	http.ServeContent(w, r, "", time.Time{}, f)
	return nil
}

// uploadHeaders are the headers of every answer about an upload in
// progress: where to send the rest, and what it holds.
func uploadHeaders(w http.ResponseWriter, name, id string, size int64) {
	w.Header().Set("Location", Prefix+name+"/blobs/uploads/"+id)
	w.Header().Set("Docker-Upload-UUID", id)
	// Range is inclusive: an empty upload holds "0-0" by custom.
	w.Header().Set("Range", fmt.Sprintf("0-%d", max(size-1, 0)))
}

func blobCreated(w http.ResponseWriter, name string, d Digest) {
	w.Header().Set("Location", Prefix+name+"/blobs/"+d.String())
	w.Header().Set("Docker-Content-Digest", d.String())
	w.WriteHeader(http.StatusCreated)
}

func (h *Handler) startUpload(w http.ResponseWriter, r *http.Request, name string) error {
	q := r.URL.Query()
	if mount := q.Get("mount"); mount != "" {
		d, err := ParseDigest(mount)
		if err != nil {
			return fail(http.StatusBadRequest, CodeDigestInvalid, "%v", err)
		}
		from := q.Get("from")
		if from != "" && !ValidName(from) {
			return fail(http.StatusBadRequest, CodeNameInvalid, "from: %.300q is not a repository name", from)
		}
		ok, err := h.Storage.mount(name, from, d)
		if err != nil {
			return err
		}
		if ok {
			blobCreated(w, name, d)
			return nil
		}
		// Nothing to mount: the client uploads instead, in the session
		// opened below.
	}
	if s := q.Get("digest"); s != "" {
		d, err := ParseDigest(s)
		if err != nil {
			return fail(http.StatusBadRequest, CodeDigestInvalid, "%v", err)
		}
		if err := h.Storage.putBlob(name, r.Body, d); err != nil {
			return err
		}
		blobCreated(w, name, d)
		return nil
	}
	id, err := h.Storage.startUpload(name)
	if err != nil {
		return err
	}
	uploadHeaders(w, name, id, 0)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// contentRange reads a chunk's Content-Range, "START-END": the byte it
// starts at, or -1 without the header.
func contentRange(r *http.Request) (int64, error) {
	v := r.Header.Get("Content-Range")
	if v == "" {
		return -1, nil
	}
	v = strings.TrimPrefix(v, "bytes ")
	a, b, ok := strings.Cut(v, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, fail(http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid, "Content-Range %.60q: want START-END", v)
	}
	if r.ContentLength >= 0 && r.ContentLength != end-start+1 {
		return 0, fail(http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid, "Content-Range %s is %d bytes; the body has %d", v, end-start+1, r.ContentLength)
	}
	return start, nil
}

func (h *Handler) patchUpload(w http.ResponseWriter, r *http.Request, t target) error {
	start, err := contentRange(r)
	if err != nil {
		return err
	}
	size, err := h.Storage.appendUpload(t.name, t.ref, r.Body, start)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusRequestedRangeNotSatisfiable {
			// The client learns where to resume from.
			uploadHeaders(w, t.name, t.ref, size)
		}
		return err
	}
	uploadHeaders(w, t.name, t.ref, size)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (h *Handler) finishUpload(w http.ResponseWriter, r *http.Request, t target) error {
	d, err := ParseDigest(r.URL.Query().Get("digest"))
	if err != nil {
		return fail(http.StatusBadRequest, CodeDigestInvalid, "digest parameter: %v", err)
	}
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		start, err := contentRange(r)
		if err != nil {
			return err
		}
		if _, err := h.Storage.appendUpload(t.name, t.ref, r.Body, start); err != nil {
			return err
		}
	}
	if err := h.Storage.finishUpload(t.name, t.ref, d); err != nil {
		return err
	}
	blobCreated(w, t.name, d)
	return nil
}

func (h *Handler) referrers(w http.ResponseWriter, r *http.Request, t target) error {
	subject, err := ParseDigest(t.ref)
	if err != nil {
		return fail(http.StatusBadRequest, CodeDigestInvalid, "%v", err)
	}
	want := r.URL.Query().Get("artifactType")
	list := []Descriptor{}
	digests, err := h.Storage.manifests(t.name)
	if err != nil {
		return err
	}
	for _, d := range digests {
		content, mt, err := h.Storage.manifest(t.name, d)
		if err != nil {
			continue // deleted meanwhile
		}
		m, err := parseManifest(mt, content)
		if err != nil || m.subject != subject {
			continue
		}
		at := m.artifactType()
		if want != "" && at != want {
			continue
		}
		list = append(list, Descriptor{MediaType: mt, Digest: d.String(), Size: int64(len(content)), ArtifactType: at, Annotations: m.Annotations})
	}
	if want != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	return writeJSON(w, r, http.StatusOK, MediaOCIIndex, struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []Descriptor `json:"manifests"`
	}{2, MediaOCIIndex, list})
}

// bodyError is a failure to read a request's body.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fail(http.StatusRequestEntityTooLarge, CodeSizeInvalid, "request body over %d bytes", tooBig.Limit)
	}
	return fmt.Errorf("reading request body: %w", err)
}
