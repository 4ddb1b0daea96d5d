package gitremote_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/gitremote"
	"github.com/velocity-ci/velocity/internal/mirror"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// push is one call of Pushed.
type push struct {
	name, by string
	updates  []gitremote.RefUpdate
}

// remote is the git remote behind the guard on a real HTTP server, with a
// token of each role and mirrors "p" (cloned from upstream) and "empty"
// (fed by pushes only).
type remote struct {
	t        *testing.T
	url      string // http://127.0.0.1:PORT
	secrets  map[access.Role]string
	mirrors  mirror.Mirrors
	upstream string

	mu        sync.Mutex
	pushes    []push
	hold      chan struct{} // when set, Pushed waits for it to close
	encodings []string      // Content-Encoding of each request body
}

func newRemote(t *testing.T) *remote {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git is not installed")
		}
		t.Skip("git is not installed")
	}
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tokens := access.New(access.Config{Store: st})
	rm := &remote{t: t, secrets: map[access.Role]string{}, mirrors: mirror.Mirrors{Dir: filepath.Join(dir, "mirrors")}}
	for _, role := range []access.Role{access.Viewer, access.Developer} {
		secret, err := tokens.Create(ctx, string(role)+"-token", role)
		if err != nil {
			t.Fatal(err)
		}
		rm.secrets[role] = secret
	}

	rm.upstream = filepath.Join(dir, "upstream")
	os.Mkdir(rm.upstream, 0o755)
	rm.git(rm.upstream, "init", "-q", "-b", "main")
	rm.commit(rm.upstream, "velocity.yml", "name: hello\n")
	if err := rm.mirrors.Create(ctx, "p", rm.upstream); err != nil {
		t.Fatal(err)
	}
	if err := rm.mirrors.Create(ctx, "empty", ""); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	h := &gitremote.Handler{
		Repo: rm.mirrors.Find,
		Pushed: func(ctx context.Context, name, by string, updates []gitremote.RefUpdate) error {
			rm.mu.Lock()
			hold := rm.hold
			rm.mu.Unlock()
			if hold != nil {
				<-hold
			}
			rm.mu.Lock()
			defer rm.mu.Unlock()
			rm.pushes = append(rm.pushes, push{name, by, updates})
			return nil
		},
		Log: log,
	}
	guard := &server.Guard{Access: tokens, Logger: log}
	guarded := guard.WrapAPI(h, gitremote.RoleOf, gitremote.Refuse)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			rm.mu.Lock()
			rm.encodings = append(rm.encodings, r.Header.Get("Content-Encoding"))
			rm.mu.Unlock()
		}
		guarded.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rm.url = srv.URL
	return rm
}

// gitEnv is a git client's environment that neither prompts nor reads
// the user's configuration.
func gitEnv() []string {
	return append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=")
}

// tryGit runs git in dir and returns its combined output and error.
func (rm *remote) tryGit(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (rm *remote) git(dir string, args ...string) string {
	rm.t.Helper()
	out, err := rm.tryGit(dir, args...)
	if err != nil {
		rm.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (rm *remote) commit(dir, file, content string) string {
	rm.t.Helper()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
		rm.t.Fatal(err)
	}
	rm.git(dir, "add", file)
	rm.git(dir, "commit", "-q", "-m", "change "+file)
	return rm.git(dir, "rev-parse", "HEAD")
}

// remoteURL is the URL of a project's repository with role's token as
// the basic auth password ("" role: no credentials).
func (rm *remote) remoteURL(role access.Role, path string) string {
	u := strings.TrimPrefix(rm.url, "http://")
	if role != "" {
		u = "x:" + rm.secrets[role] + "@" + u
	}
	return "http://" + u + path
}

// work is a clone of the upstream to commit in.
func (rm *remote) work() string {
	rm.t.Helper()
	dir := rm.t.TempDir()
	rm.git(dir, "clone", "-q", rm.upstream, ".")
	return dir
}

func (rm *remote) heads(name string) map[string]string {
	rm.t.Helper()
	h, err := rm.mirrors.Heads(context.Background(), name)
	if err != nil {
		rm.t.Fatal(err)
	}
	return h
}

func (rm *remote) takePushes() []push {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	p := rm.pushes
	rm.pushes = nil
	return p
}

const zero = "0000000000000000000000000000000000000000"

func TestDeveloperPushes(t *testing.T) {
	rm := newRemote(t)
	work := rm.work()
	before := rm.git(work, "rev-parse", "HEAD")
	after := rm.commit(work, "a.txt", "a\n")
	out := rm.git(work, "push", rm.remoteURL(access.Developer, "/git/p.git"), "main")
	t.Log(out)
	if got := rm.heads("p")["refs/heads/main"]; got != after {
		t.Fatalf("the mirror's main is %s, want the pushed %s", got, after)
	}
	want := []push{{"p", "developer-token", []gitremote.RefUpdate{{Ref: "refs/heads/main", Before: before, After: after}}}}
	if got := rm.takePushes(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Pushed saw %v, want %v", got, want)
	}

	// A new branch and a deletion, in one push, to the path without .git.
	rm.git(work, "push", rm.remoteURL(access.Developer, "/git/p.git"), "main:old")
	rm.takePushes()
	rm.git(work, "push", rm.remoteURL(access.Developer, "/git/p"), "main:topic", ":old")
	got := rm.takePushes()
	if len(got) != 1 || len(got[0].updates) != 2 {
		t.Fatalf("Pushed saw %v, want one push of two refs", got)
	}
	byRef := map[string]gitremote.RefUpdate{}
	for _, u := range got[0].updates {
		byRef[u.Ref] = u
	}
	if u := byRef["refs/heads/topic"]; u.Before != zero || u.After != after {
		t.Errorf("created branch: %+v", u)
	}
	if u := byRef["refs/heads/old"]; u.Before != after || u.After != zero {
		t.Errorf("deleted branch: %+v", u)
	}

	// Pushing what is there already changes nothing, and says so.
	rm.git(work, "push", rm.remoteURL(access.Developer, "/git/p.git"), "main")
	if got := rm.takePushes(); len(got) != 0 {
		t.Errorf("a push that changed nothing: Pushed saw %v", got)
	}
}

// A project without a repository of its own gets its commits by push,
// a big one included (git streams it in chunks, with no length).
func TestPushToAPushOnlyProject(t *testing.T) {
	rm := newRemote(t)
	work := rm.work()
	big := make([]byte, 3<<20)
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(work, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	rm.git(work, "add", "big.bin")
	rm.git(work, "commit", "-q", "-m", "big")
	head := rm.git(work, "rev-parse", "HEAD")
	rm.git(work, "push", rm.remoteURL(access.Developer, "/git/empty.git"), "main")
	if got := rm.heads("empty")["refs/heads/main"]; got != head {
		t.Fatalf("main %s, want %s", got, head)
	}
	want := []push{{"empty", "developer-token", []gitremote.RefUpdate{{Ref: "refs/heads/main", Before: zero, After: head}}}}
	if got := rm.takePushes(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Pushed saw %v, want %v", got, want)
	}
	b, err := rm.mirrors.File(context.Background(), "empty", head, "big.bin")
	if err != nil || !bytes.Equal(b, big) {
		t.Errorf("the big file came out different (%d bytes, %v)", len(b), err)
	}
}

func TestViewerClonesButCannotPush(t *testing.T) {
	rm := newRemote(t)
	// Enough branches that git compresses its request.
	for i := range 40 {
		rm.git(rm.upstream, "branch", "b"+strconv.Itoa(i))
		rm.commit(rm.upstream, "f", strconv.Itoa(i))
	}
	if err := rm.mirrors.Fetch(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"2", "0"} {
		dir := t.TempDir()
		rm.git(dir, "-c", "protocol.version="+version, "clone", "-q", "--mirror", rm.remoteURL(access.Viewer, "/git/p.git"), ".")
		if got, want := rm.git(dir, "rev-parse", "b39"), rm.git(rm.upstream, "rev-parse", "b39"); got != want {
			t.Errorf("protocol %s: the clone's b39 is %s, want %s", version, got, want)
		}
		if out := rm.git(dir, "for-each-ref"); strings.Contains(out, "refs/upstream") {
			t.Errorf("protocol %s: the clone has the mirror's upstream refs", version)
		}
	}
	rm.mu.Lock()
	gzipped := strings.Contains(strings.Join(rm.encodings, ","), "gzip")
	rm.mu.Unlock()
	if !gzipped {
		t.Errorf("no request came gzipped (%v): the test does not show they are read", rm.encodings)
	}

	work := rm.work()
	heads := rm.heads("p")
	rm.commit(work, "a.txt", "a\n")
	out, err := rm.tryGit(work, "push", rm.remoteURL(access.Viewer, "/git/p.git"), "main")
	if err == nil || !strings.Contains(out, "403") {
		t.Errorf("a viewer's push: %v\n%s", err, out)
	}
	if !strings.Contains(out, "needs developer") {
		t.Errorf("the refusal does not say why:\n%s", out)
	}
	if got := rm.heads("p"); fmt.Sprint(got) != fmt.Sprint(heads) {
		t.Errorf("a refused push changed the mirror: %v, was %v", got, heads)
	}
	if got := rm.takePushes(); len(got) != 0 {
		t.Errorf("Pushed saw a refused push: %v", got)
	}
	// Even a viewer that skips the first request cannot push.
	res := rm.post(t, access.Viewer, "/git/p.git/git-receive-pack", "application/x-git-receive-pack-request", "0000")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's POST git-receive-pack: %d", res.StatusCode)
	}
}

func (rm *remote) do(t *testing.T, req *http.Request, role access.Role) *http.Response {
	t.Helper()
	if role != "" {
		req.SetBasicAuth("x", rm.secrets[role])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func (rm *remote) get(t *testing.T, role access.Role, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rm.url+path, nil)
	return rm.do(t, req, role)
}

func (rm *remote) post(t *testing.T, role access.Role, path, contentType, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rm.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	return rm.do(t, req, role)
}

func TestWithoutATokenGitAsksForOne(t *testing.T) {
	rm := newRemote(t)
	out, err := rm.tryGit(t.TempDir(), "ls-remote", rm.remoteURL("", "/git/p.git"))
	// Without a terminal to ask on, git says it wanted a user name.
	if err == nil || !strings.Contains(out, "could not read Username") {
		t.Errorf("ls-remote without a token: %v\n%s", err, out)
	}
	res := rm.get(t, "", "/git/p.git/info/refs?service=git-upload-pack")
	if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("no token: %d, WWW-Authenticate %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	out, err = rm.tryGit(t.TempDir(), "ls-remote", rm.remoteURL(access.Viewer, "/git/p.git"))
	if err != nil || !strings.Contains(out, "refs/heads/main") {
		t.Errorf("ls-remote with a viewer token: %v\n%s", err, out)
	}
}

func TestOnlyTheSmartProtocolOfKnownProjects(t *testing.T) {
	rm := newRemote(t)
	out, err := rm.tryGit(t.TempDir(), "ls-remote", rm.remoteURL(access.Viewer, "/git/nope.git"))
	if err == nil || !strings.Contains(out, "not found") {
		t.Errorf("ls-remote of an unknown project: %v\n%s", err, out)
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/git/nope.git/info/refs?service=git-upload-pack", 404},
		{"GET", "/git/p.git/info/refs", 404}, // the dumb protocol
		{"GET", "/git/p.git/info/refs?service=git-upload-archive", 404},
		{"GET", "/git/p.git/HEAD", 404},
		{"GET", "/git/p.git/objects/info/packs", 404},
		{"GET", "/git/p.git/config", 404},
		{"GET", "/git/../p.git/info/refs?service=git-upload-pack", 404},
		{"GET", "/git/p.git/git-upload-pack", 405},
		{"POST", "/git/p.git/info/refs?service=git-upload-pack", 405},
		{"GET", "/git/p.git/info/refs?service=git-upload-pack", 200},
		{"GET", "/git/p/info/refs?service=git-upload-pack", 200},
	} {
		req, _ := http.NewRequest(c.method, rm.url, nil)
		req.URL.Path = c.path[:strings.IndexAny(c.path+"?", "?")]
		req.URL.RawQuery, _ = strings.CutPrefix(c.path[len(req.URL.Path):], "?")
		if res := rm.do(t, req, access.Viewer); res.StatusCode != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, res.StatusCode, c.code)
		}
	}
	res := rm.get(t, access.Viewer, "/git/p.git/info/refs?service=git-upload-pack")
	if ct := res.Header.Get("Content-Type"); ct != "application/x-git-upload-pack-advertisement" {
		t.Errorf("advertisement's content type %q", ct)
	}
	// A client that asks for protocol version 2 gets it.
	req, _ := http.NewRequest(http.MethodGet, rm.url+"/git/p.git/info/refs?service=git-upload-pack", nil)
	req.Header.Set("Git-Protocol", "version=2")
	req.SetBasicAuth("x", rm.secrets[access.Viewer])
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Contains(b, []byte("version 2")) {
		t.Errorf("asked for version 2, got %q", b)
	}
}

// A client that goes away mid-request takes its git processes with it.
func TestClientGoneStopsGit(t *testing.T) {
	rm := newRemote(t)
	dir := rm.mirrors.Path("p")
	body, feed := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rm.url+"/git/p.git/git-upload-pack", body)
	req.Header.Set("Content-Type", "application/x-git-upload-pack-request")
	req.SetBasicAuth("x", rm.secrets[access.Developer])
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	// A request that never ends: upload-pack waits for more.
	feed.Write([]byte("0032want " + zero + "\n"))
	waitFor(t, "git http-backend to start", func() bool { return len(gitsIn(dir)) > 0 })
	cancel()
	feed.CloseWithError(io.ErrClosedPipe)
	<-done
	waitFor(t, "the git processes to end", func() bool { return len(gitsIn(dir)) == 0 })
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gitsIn lists the pids of processes working in dir.
func gitsIn(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && cwd == dir {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Pushes at the same time each report their own refs, never the other's.
func TestConcurrentPushesReportTheirOwnRefs(t *testing.T) {
	rm := newRemote(t)
	work := rm.work()
	var wg sync.WaitGroup
	for i := range 4 {
		branch := "b" + strconv.Itoa(i)
		rm.git(work, "branch", branch)
		wg.Go(func() {
			if out, err := rm.tryGit(work, "push", rm.remoteURL(access.Developer, "/git/p.git"), branch); err != nil {
				t.Errorf("push %s: %v\n%s", branch, err, out)
			}
		})
	}
	wg.Wait()
	got := map[string]int{}
	for _, p := range rm.takePushes() {
		if len(p.updates) != 1 {
			t.Errorf("a push reported %v", p.updates)
		}
		for _, u := range p.updates {
			got[u.Ref]++
		}
	}
	if len(got) != 4 {
		t.Errorf("pushes reported %v, want each of four branches once", got)
	}
}

// A push that git reports done has been told to Pushed: the server's
// record of it cannot be lost to a crash after the client saw success.
func TestPushReturnsAfterPushed(t *testing.T) {
	rm := newRemote(t)
	work := rm.work()
	rm.commit(work, "a.txt", "a\n")
	hold := make(chan struct{})
	rm.mu.Lock()
	rm.hold = hold
	rm.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		out, err := rm.tryGit(work, "push", rm.remoteURL(access.Developer, "/git/p.git"), "main")
		if err != nil {
			err = fmt.Errorf("%w: %s", err, out)
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("git push returned before Pushed did: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := rm.takePushes(); len(got) != 1 {
		t.Errorf("Pushed saw %v", got)
	}
}
