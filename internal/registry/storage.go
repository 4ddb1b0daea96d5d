package registry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultMaxBlob is the largest blob a Storage accepts unless told
// otherwise: far above any sane image layer, low enough that one client
// cannot fill a disk with a single upload by mistake.
const DefaultMaxBlob = 16 << 30

// Storage is a registry's content in a directory:
//
//	blobs/ALG/XX/HEX                  content, shared by every repository
//	repos/NAME/_blobs/ALG/HEX         the repository holds that blob
//	repos/NAME/_manifests/ALG/HEX     ... that manifest (file: its media type)
//	repos/NAME/_tags/TAG              a tag (file: the manifest's digest)
//	uploads/ID/{name,data}            an upload in progress
//
// Repository components never start with an underscore, so a name never
// collides with the directories of its parent repository. Any number of
// Storages, in any number of processes, may share a directory.
type Storage struct {
	dir string
	// MaxBlob is the largest blob an upload may make; 0 is
	// DefaultMaxBlob.
	MaxBlob int64
	// locks serialise the requests of one upload (ID → *sync.Mutex),
	// which a client sends one after the other anyway.
	locks sync.Map
	// sums hold the sha256 of each upload so far (ID → *runningSum),
	// so that finishing an upload need not read it again. An upload
	// this process has not seen from its start (begun before a
	// restart) is read again instead.
	sums sync.Map
}

// runningSum is the sha256 of an upload's first n bytes.
type runningSum struct {
	h hash.Hash
	n int64
}

// MaxUploads is how many uploads may be in progress at once: each is a
// directory, and a client that opens sessions without end would fill
// the disk with them.
const MaxUploads = 1000

// Open opens (creating if needed) the storage in dir.
func Open(dir string) (*Storage, error) {
	for _, d := range []string{"blobs", "repos", "uploads"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("registry storage: %w", err)
		}
	}
	return &Storage{dir: dir}, nil
}

// Dir is the storage's directory.
func (s *Storage) Dir() string { return s.dir }

func (s *Storage) maxBlob() int64 {
	if s.MaxBlob > 0 {
		return s.MaxBlob
	}
	return DefaultMaxBlob
}

func (s *Storage) blobPath(d Digest) string {
	return filepath.Join(s.dir, "blobs", d.alg, d.hex[:2], d.hex)
}

func (s *Storage) repoDir(name string) string {
	return filepath.Join(s.dir, "repos", filepath.FromSlash(name))
}

func (s *Storage) blobLink(name string, d Digest) string {
	return filepath.Join(s.repoDir(name), "_blobs", d.alg, d.hex)
}

func (s *Storage) manifestLink(name string, d Digest) string {
	return filepath.Join(s.repoDir(name), "_manifests", d.alg, d.hex)
}

func (s *Storage) tagPath(name, tag string) string {
	return filepath.Join(s.repoDir(name), "_tags", tag)
}

func (s *Storage) uploadDir(id string) string { return filepath.Join(s.dir, "uploads", id) }

var (
	errBlobUnknown     = fail(http.StatusNotFound, CodeBlobUnknown, "blob unknown to this repository")
	errManifestUnknown = fail(http.StatusNotFound, CodeManifestUnknown, "manifest unknown to this repository")
	errUploadUnknown   = fail(http.StatusNotFound, CodeBlobUploadUnknown, "upload unknown: it finished, was cancelled or expired")
	errNameUnknown     = fail(http.StatusNotFound, CodeNameUnknown, "repository unknown to this registry")
)

// openBlob opens the content of d when repository name holds it.
func (s *Storage) openBlob(name string, d Digest) (*os.File, error) {
	if !exists(s.blobLink(name, d)) {
		return nil, errBlobUnknown
	}
	f, err := os.Open(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errBlobUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("registry blob %s: %w", d, err)
	}
	return f, nil
}

// hasBlob reports whether repository name holds d. A blob asked about
// is about to be referenced: touching its link keeps the collector's
// grace period from starting before the client's manifest arrives.
func (s *Storage) hasBlob(name string, d Digest) bool {
	if !exists(s.blobPath(d)) {
		return false
	}
	return touch(s.blobLink(name, d))
}

// linkBlob records that repository name holds d, which is stored.
func (s *Storage) linkBlob(name string, d Digest) error {
	return writeFile(s.blobLink(name, d), nil)
}

// mount links d into repository name from repository from (any
// repository when from is ""), reporting whether the blob was there to
// mount.
func (s *Storage) mount(name, from string, d Digest) (bool, error) {
	if !touch(s.blobPath(d)) || from != "" && !exists(s.blobLink(from, d)) {
		return false, nil
	}
	return true, s.linkBlob(name, d)
}

// deleteBlob removes d from repository name. The content stays until
// the collector finds no repository holding it.
func (s *Storage) deleteBlob(name string, d Digest) error {
	err := os.Remove(s.blobLink(name, d))
	if errors.Is(err, fs.ErrNotExist) {
		return errBlobUnknown
	}
	return err
}

// putBlob stores what r yields, at most max bytes, in repository name,
// checking it against want as it streams.
func (s *Storage) putBlob(name string, r io.Reader, want Digest) error {
	id, err := s.startUpload(name)
	if err != nil {
		return err
	}
	defer s.cancelUpload(name, id)
	if _, err := s.appendUpload(name, id, r, -1); err != nil {
		return err
	}
	return s.finishUpload(name, id, want)
}

// startUpload begins an upload into repository name and returns its ID.
func (s *Storage) startUpload(name string) (string, error) {
	if entries, err := os.ReadDir(filepath.Join(s.dir, "uploads")); err == nil && len(entries) >= MaxUploads {
		return "", fail(http.StatusTooManyRequests, CodeTooManyRequests, "%d uploads in progress already: finish or cancel some", len(entries))
	}
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	dir := s.uploadDir(id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("registry upload: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "name"), []byte(name), 0o600); err != nil {
		return "", fmt.Errorf("registry upload: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("registry upload: %w", err)
	}
	return id, f.Close()
}

// upload checks that id is an upload of repository name, locks it and
// returns its data file's path, its size, and the unlock.
func (s *Storage) upload(name, id string) (string, int64, func(), error) {
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", 0, nil, errUploadUnknown
	}
	// An ID nobody was given gets no lock: the map of locks must not
	// grow with every made-up ID a client asks about.
	if _, err := os.Stat(filepath.Join(s.uploadDir(id), "name")); err != nil {
		return "", 0, nil, errUploadUnknown
	}
	mu, _ := s.locks.LoadOrStore(id, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	unlock := mu.(*sync.Mutex).Unlock
	owner, err := os.ReadFile(filepath.Join(s.uploadDir(id), "name"))
	if errors.Is(err, fs.ErrNotExist) {
		// Finished, cancelled or collected (perhaps by another
		// process) since: its lock goes too. IDs are never reused.
		s.locks.Delete(id)
	}
	if err != nil || string(owner) != name {
		unlock()
		return "", 0, nil, errUploadUnknown
	}
	data := filepath.Join(s.uploadDir(id), "data")
	fi, err := os.Stat(data)
	if err != nil {
		unlock()
		return "", 0, nil, errUploadUnknown
	}
	return data, fi.Size(), unlock, nil
}

// uploadSize is how many bytes upload id of repository name holds.
func (s *Storage) uploadSize(name, id string) (int64, error) {
	_, size, unlock, err := s.upload(name, id)
	if err != nil {
		return 0, err
	}
	unlock()
	return size, nil
}

// appendUpload appends what r yields to upload id of repository name
// and returns the upload's new size. A chunk must start where the
// upload ends (start, or -1 for "wherever that is"); one that does not
// is refused with 416, and nothing is written.
func (s *Storage) appendUpload(name, id string, r io.Reader, start int64) (int64, error) {
	data, size, unlock, err := s.upload(name, id)
	if err != nil {
		return 0, err
	}
	defer unlock()
	if start >= 0 && start != size {
		return size, fail(http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid,
			"chunk starts at byte %d; the upload holds %d bytes", start, size)
	}
	f, err := os.OpenFile(data, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return size, fmt.Errorf("registry upload: %w", err)
	}
	room := s.maxBlob() - size
	sum := s.runningSum(id, size)
	var w io.Writer = f
	if sum != nil {
		w = io.MultiWriter(f, sum.h)
	}
	n, err := io.Copy(w, io.LimitReader(r, room+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > room {
		err = fail(http.StatusRequestEntityTooLarge, CodeSizeInvalid, "blob larger than this registry's limit of %d bytes", s.maxBlob())
	}
	if err != nil {
		// A chunk that failed midway is cut off again: the client
		// resends it from where the upload said it ended. The running
		// sum has hashed it already, so it goes.
		os.Truncate(data, size)
		s.sums.Delete(id)
		var e *Error
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &e):
			return size, err
		case errors.As(err, &tooBig):
			return size, fail(http.StatusRequestEntityTooLarge, CodeSizeInvalid, "request body over %d bytes", tooBig.Limit)
		}
		return size, fmt.Errorf("registry upload: %w", err)
	}
	if sum != nil {
		sum.n += n
	}
	return size + n, nil
}

// runningSum returns the running sum of upload id when it covers the
// size bytes the upload holds, nil when there is none to trust.
func (s *Storage) runningSum(id string, size int64) *runningSum {
	if size == 0 {
		sum := &runningSum{h: sha256.New()}
		s.sums.Store(id, sum)
		return sum
	}
	v, ok := s.sums.Load(id)
	if ok && v.(*runningSum).n == size {
		return v.(*runningSum)
	}
	s.sums.Delete(id)
	return nil
}

// finishUpload checks upload id of repository name against want and
// stores it as a blob of the repository. On a mismatch the upload
// stays, as the specification leaves it to the client to cancel.
func (s *Storage) finishUpload(name, id string, want Digest) error {
	data, size, unlock, err := s.upload(name, id)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := os.Open(data)
	if err != nil {
		return fmt.Errorf("registry upload: %w", err)
	}
	var got Digest
	if v, ok := s.sums.Load(id); ok && want.alg == "sha256" && v.(*runningSum).n == size {
		got = sumOf("sha256", v.(*runningSum).h)
	} else {
		h := want.newHash()
		_, err = io.Copy(h, f)
		got = sumOf(want.alg, h)
	}
	if err == nil {
		// Synced before it is renamed into place: a blob that exists
		// is whole, whatever happens to the machine next.
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		return fmt.Errorf("registry upload: %w", err)
	}
	if got != want {
		return fail(http.StatusBadRequest, CodeDigestInvalid, "content has digest %s, not %s", got, want)
	}
	if err := s.placeBlob(data, want); err != nil {
		return err
	}
	if err := s.linkBlob(name, want); err != nil {
		return err
	}
	os.RemoveAll(s.uploadDir(id))
	s.forget(id)
	return nil
}

// forget drops what the process holds about upload id.
func (s *Storage) forget(id string) {
	s.locks.Delete(id)
	s.sums.Delete(id)
}

// placeBlob moves the verified file at p into the blob store as d.
func (s *Storage) placeBlob(p string, d Digest) error {
	final := s.blobPath(d)
	if touch(final) {
		return os.Remove(p)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return fmt.Errorf("registry blob: %w", err)
	}
	if err := os.Rename(p, final); err != nil {
		return fmt.Errorf("registry blob: %w", err)
	}
	return syncDir(filepath.Dir(final))
}

// cancelUpload ends upload id of repository name, dropping its content.
func (s *Storage) cancelUpload(name, id string) error {
	_, _, unlock, err := s.upload(name, id)
	if err != nil {
		return err
	}
	defer unlock()
	s.forget(id)
	return os.RemoveAll(s.uploadDir(id))
}

// putManifest stores content as manifest d of repository name, with its
// media type, and tags it with tags.
func (s *Storage) putManifest(name string, d Digest, mediaType string, content []byte, tags []string) error {
	final := s.blobPath(d)
	if !touch(final) {
		if err := writeFile(final, content); err != nil {
			return err
		}
	}
	if err := writeFile(s.manifestLink(name, d), []byte(mediaType)); err != nil {
		return err
	}
	for _, t := range tags {
		if err := writeFile(s.tagPath(name, t), []byte(d.String())); err != nil {
			return err
		}
	}
	return nil
}

// resolve returns the digest ref names in repository name: ref itself
// when it is a digest, else the manifest its tag names.
func (s *Storage) resolve(name, ref string) (Digest, error) {
	if d, err := ParseDigest(ref); err == nil {
		return d, nil
	}
	b, err := os.ReadFile(s.tagPath(name, ref))
	if err != nil {
		return Digest{}, errManifestUnknown
	}
	d, err := ParseDigest(string(b))
	if err != nil {
		return Digest{}, fmt.Errorf("registry tag %s:%s: %w", name, ref, err)
	}
	return d, nil
}

// manifest returns manifest d of repository name and its media type.
func (s *Storage) manifest(name string, d Digest) ([]byte, string, error) {
	mt, err := os.ReadFile(s.manifestLink(name, d))
	if err != nil {
		return nil, "", errManifestUnknown
	}
	content, err := os.ReadFile(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", errManifestUnknown
	}
	if err != nil {
		return nil, "", fmt.Errorf("registry manifest %s: %w", d, err)
	}
	return content, string(mt), nil
}

// hasManifest reports whether repository name holds manifest d.
func (s *Storage) hasManifest(name string, d Digest) bool {
	return exists(s.manifestLink(name, d)) && exists(s.blobPath(d))
}

// deleteManifest removes manifest d, and the tags naming it, from
// repository name.
func (s *Storage) deleteManifest(name string, d Digest) error {
	if err := os.Remove(s.manifestLink(name, d)); errors.Is(err, fs.ErrNotExist) {
		return errManifestUnknown
	} else if err != nil {
		return fmt.Errorf("registry manifest %s: %w", d, err)
	}
	tags, err := s.tags(name)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if got, err := s.resolve(name, t); err == nil && got == d {
			os.Remove(s.tagPath(name, t))
		}
	}
	return nil
}

// deleteTag removes tag from repository name, not the manifest.
func (s *Storage) deleteTag(name, tag string) error {
	err := os.Remove(s.tagPath(name, tag))
	if errors.Is(err, fs.ErrNotExist) {
		return errManifestUnknown
	}
	return err
}

// tags returns repository name's tags in lexical order; a repository
// unknown is errNameUnknown.
func (s *Storage) tags(name string) ([]string, error) {
	if !exists(s.repoDir(name)) {
		return nil, errNameUnknown
	}
	entries, err := os.ReadDir(filepath.Join(s.repoDir(name), "_tags"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("registry tags of %s: %w", name, err)
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// manifests returns the digests of the manifests of repository name.
func (s *Storage) manifests(name string) ([]Digest, error) {
	return s.links(filepath.Join(s.repoDir(name), "_manifests"))
}

// blobs returns the digests of the blobs of repository name.
func (s *Storage) blobs(name string) ([]Digest, error) {
	return s.links(filepath.Join(s.repoDir(name), "_blobs"))
}

// links lists the ALG/HEX files under dir as digests, skipping what is
// no digest (a temporary file).
func (s *Storage) links(dir string) ([]Digest, error) {
	var out []Digest
	for _, alg := range []string{"sha256", "sha512"} {
		entries, err := os.ReadDir(filepath.Join(dir, alg))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		for _, e := range entries {
			if d, err := ParseDigest(alg + ":" + e.Name()); err == nil {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// Repositories returns the names of the repositories, in lexical order.
// A repository is a directory under repos/ with manifests, tags or blobs
// of its own.
func (s *Storage) Repositories() ([]string, error) {
	root := filepath.Join(s.dir, "repos")
	var out []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() || p == root {
			return nil
		}
		if strings.HasPrefix(e.Name(), "_") {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			name := filepath.ToSlash(rel)
			if len(out) == 0 || out[len(out)-1] != name {
				out = append(out, name)
			}
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry repositories: %w", err)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Tags returns repository name's tags with the digest each names.
func (s *Storage) Tags(name string) (map[string]string, error) {
	tags, err := s.tags(name)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		if d, err := s.resolve(name, t); err == nil {
			out[t] = d.String()
		}
	}
	return out, nil
}

// writeFile writes content to p whole or not at all: a temporary file
// beside it, synced, renamed over it.
func writeFile(p string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("registry: %w", err)
	}
	return syncDir(filepath.Dir(p))
}

// syncDir makes a rename into dir durable: without it the new name may
// be lost with the power though the client was told it is stored.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// touch marks the content at p as just used, reporting whether it is
// there: content about to be linked again must not look, to a collection
// running meanwhile, like content nothing has needed for a long time.
func touch(p string) bool {
	now := time.Now()
	return os.Chtimes(p, now, now) == nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
