package mirror_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/mirror"
)

var ctx = context.Background()

// repo is a real repository with a work tree, the upstream of a mirror.
type repo struct {
	t   *testing.T
	dir string
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git is not installed")
		}
		t.Skip("git is not installed")
	}
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	r.commit("velocity.yml", "name: hello\n")
	return r
}

func (r *repo) git(args ...string) string { r.t.Helper(); return gitIn(r.t, r.dir, args...) }

// commit writes a file and commits it, returning the commit id.
func (r *repo) commit(file, content string) string {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, file), []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.git("add", file)
	r.git("commit", "-q", "-m", "change "+file)
	return r.git("rev-parse", "HEAD")
}

func newMirrors(t *testing.T) mirror.Mirrors {
	return mirror.Mirrors{Dir: filepath.Join(t.TempDir(), "mirrors")}
}

func heads(t *testing.T, m mirror.Mirrors, name string) map[string]string {
	t.Helper()
	h, err := m.Heads(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCreateClonesAndResolves(t *testing.T) {
	up := newRepo(t)
	first := up.git("rev-parse", "HEAD")
	up.git("tag", "-a", "-m", "one", "v1")
	second := up.commit("README", "hi\n")
	up.git("branch", "feature", first)
	m := newMirrors(t)
	if err := m.Create(ctx, "hello", up.dir); err != nil {
		t.Fatal(err)
	}
	if got := heads(t, m, "hello"); len(got) != 2 || got["refs/heads/main"] != second || got["refs/heads/feature"] != first {
		t.Errorf("heads %v", got)
	}
	if v := gitIn(t, m.Path("hello"), "config", "http.receivepack"); v != "true" {
		t.Errorf("http.receivepack = %q", v)
	}
	for ref, want := range map[string]string{
		"main": second, "refs/heads/main": second, "feature": first, "v1": first, "refs/tags/v1": first,
		first: first, first[:7]: first, strings.ToUpper(second[:10]): second,
	} {
		if got, err := m.Resolve(ctx, "hello", ref); err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %s", ref, got, err, want)
		}
	}
	for _, ref := range []string{"nope", "refs/heads/nope", "0000000", strings.Repeat("0", 40)} {
		if _, err := m.Resolve(ctx, "hello", ref); !errors.Is(err, fault.NotFound) {
			t.Errorf("Resolve(%q): %v, want not found", ref, err)
		}
	}
	for _, ref := range []string{"", "-h", "--output=/tmp/x", "main~1", "main^", "HEAD:velocity.yml", "@{-1}", "a..b", "a b"} {
		if _, err := m.Resolve(ctx, "hello", ref); !errors.Is(err, fault.Invalid) {
			t.Errorf("Resolve(%q): %v, want invalid", ref, err)
		}
	}
	if _, err := m.Resolve(ctx, "other", "main"); !errors.Is(err, fault.NotFound) {
		t.Errorf("Resolve in a missing mirror: %v", err)
	}

	b, err := m.File(ctx, "hello", first, "velocity.yml")
	if err != nil || string(b) != "name: hello\n" {
		t.Errorf("File = %q, %v", b, err)
	}
	for _, c := range []struct{ commit, path string }{
		{first, "README"}, {second, "missing.yml"}, {strings.Repeat("1", 40), "velocity.yml"},
	} {
		if _, err := m.File(ctx, "hello", c.commit, c.path); !errors.Is(err, fault.NotFound) {
			t.Errorf("File(%s, %s): %v, want not found", c.commit[:7], c.path, err)
		}
	}
	for _, c := range []struct{ commit, path string }{
		{"main", "velocity.yml"}, {first, "../x"}, {first, "/etc/passwd"}, {first, ""},
	} {
		if _, err := m.File(ctx, "hello", c.commit, c.path); !errors.Is(err, fault.Invalid) {
			t.Errorf("File(%s, %s): %v, want invalid", c.commit, c.path, err)
		}
	}

	if dir, err := m.Find(ctx, "hello"); err != nil || dir != m.Path("hello") {
		t.Errorf("Find = %q, %v", dir, err)
	}
	if _, err := m.Find(ctx, "nope"); !errors.Is(err, fault.NotFound) {
		t.Errorf("Find of no mirror: %v", err)
	}
	if _, err := m.Find(ctx, "../hello"); !errors.Is(err, fault.Invalid) {
		t.Errorf("Find of a bad name: %v", err)
	}
	if err := m.Create(ctx, "hello", up.dir); !errors.Is(err, fault.Conflict) {
		t.Errorf("second Create: %v, want conflict", err)
	}
	if err := m.Remove("hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.Path("hello")); !os.IsNotExist(err) {
		t.Errorf("after Remove: %v", err)
	}
	if err := m.Remove("hello"); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestCreateRefusesBadNamesAndRepositories(t *testing.T) {
	m := newMirrors(t)
	for _, name := range []string{"", "a/b", "..", "../x", ".hidden", "-x", "a\\b", "a\nb"} {
		if err := m.Create(ctx, name, ""); !errors.Is(err, fault.Invalid) {
			t.Errorf("Create(%q): %v, want invalid", name, err)
		}
	}
	// Even a server whose git configuration allows every transport
	// refuses ext::, which runs a command.
	global := filepath.Join(t.TempDir(), "gitconfig")
	if err := os.WriteFile(global, []byte("[protocol]\n\tallow = always\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_CONFIG_GLOBAL", global)
	marker := filepath.Join(t.TempDir(), "ran")
	for _, url := range []string{
		"ext::sh -c touch% " + marker,
		filepath.Join(t.TempDir(), "nothing-here"),
		"-uhoh",
	} {
		err := m.Create(ctx, "p", url)
		if !errors.Is(err, fault.Invalid) {
			t.Errorf("Create from %q: %v, want invalid", url, err)
		}
		t.Logf("%s: %v", url, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("an ext:: URL ran its command")
	}
	if left, _ := os.ReadDir(m.Dir); len(left) != 0 {
		t.Errorf("failed clones left %v", left)
	}
}

// A relative path is the repository where the server was started from:
// the mirror remembers it as an absolute path so that later fetches find it.
func TestCreateFromARelativePath(t *testing.T) {
	up := newRepo(t)
	t.Chdir(filepath.Dir(up.dir))
	m := newMirrors(t)
	if err := m.Create(ctx, "rel", "./"+filepath.Base(up.dir)); err != nil {
		t.Fatal(err)
	}
	if url := gitIn(t, m.Path("rel"), "config", "remote.origin.url"); url != up.dir {
		t.Errorf("remote url %q, want %q", url, up.dir)
	}
	t.Chdir(t.TempDir())
	next := up.commit("b", "b")
	if err := m.Fetch(ctx, "rel"); err != nil {
		t.Fatal(err)
	}
	if got := heads(t, m, "rel")["refs/heads/main"]; got != next {
		t.Errorf("main %s, want %s", got, next)
	}
}

// push pushes commit to ref of the mirror, as the built-in remote would.
func push(t *testing.T, from *repo, m mirror.Mirrors, name, spec string) {
	t.Helper()
	from.git("push", "-q", m.Path(name), spec)
}

func TestFetchFollowsTheUpstreamAndKeepsPushes(t *testing.T) {
	up := newRepo(t)
	m := newMirrors(t)
	if err := m.Create(ctx, "p", up.dir); err != nil {
		t.Fatal(err)
	}
	main := func() string { return heads(t, m, "p")["refs/heads/main"] }

	// The upstream moves; a new branch and tag appear.
	c2 := up.commit("a", "1")
	up.git("branch", "topic")
	up.git("tag", "v2")
	if err := m.Fetch(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if main() != c2 || heads(t, m, "p")["refs/heads/topic"] != c2 {
		t.Fatalf("after fetch %v, want main and topic at %s", heads(t, m, "p"), c2)
	}
	if id, err := m.Resolve(ctx, "p", "v2"); err != nil || id != c2 {
		t.Errorf("tag v2: %s, %v", id, err)
	}

	// A developer pushes a commit to the mirror: fetching an unchanged
	// upstream keeps it.
	dev := &repo{t: t, dir: t.TempDir()}
	gitIn(t, dev.dir, "clone", "-q", m.Path("p"), ".")
	pushed := dev.commit("b", "pushed")
	push(t, dev, m, "p", "main")
	if err := m.Fetch(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if main() != pushed {
		t.Fatalf("the fetch threw away the pushed commit: main %s, want %s", main(), pushed)
	}

	// The upstream diverges: the mirror keeps the pushed commit.
	up.commit("c", "upstream")
	if err := m.Fetch(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if main() != pushed {
		t.Fatalf("diverged: main %s, want the pushed %s", main(), pushed)
	}

	// The upstream takes the pushed commit and goes on: a fast-forward.
	up.git("fetch", "-q", m.Path("p"), "main")
	up.git("merge", "-q", "--no-edit", "FETCH_HEAD")
	merged := up.git("rev-parse", "HEAD")
	if err := m.Fetch(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if main() != merged {
		t.Fatalf("fast-forward: main %s, want %s", main(), merged)
	}

	// A forced update upstream is followed when nobody pushed since.
	up.git("reset", "-q", "--hard", c2)
	if err := m.Fetch(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if main() != c2 {
		t.Fatalf("forced update: main %s, want %s", main(), c2)
	}

	// A branch deleted upstream goes; one that was pushed to stays.
	up.git("branch", "kept")
	if err := m.Fetch(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	dev.git("fetch", "-q")
	dev.git("checkout", "-q", "-b", "kept", "origin/kept")
	keptPush := dev.commit("k", "k")
	push(t, dev, m, "p", "kept")
	up.git("branch", "-D", "topic", "kept")
	if err := m.Fetch(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	h := heads(t, m, "p")
	if _, ok := h["refs/heads/topic"]; ok || h["refs/heads/kept"] != keptPush {
		t.Errorf("after deletions upstream: %v; want no topic, kept at %s", h, keptPush)
	}
	// Clients of the mirror never see the upstream's namespace.
	if out := gitIn(t, dev.dir, "ls-remote", m.Path("p")); strings.Contains(out, "refs/upstream") {
		t.Errorf("ls-remote shows the upstream namespace:\n%s", out)
	}
}

func TestFetchesOfOneMirrorRunOneAtATime(t *testing.T) {
	up := newRepo(t)
	m := newMirrors(t)
	if err := m.Create(ctx, "p", up.dir); err != nil {
		t.Fatal(err)
	}
	last := up.commit("a", "1")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- m.Fetch(ctx, "p") })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := heads(t, m, "p")["refs/heads/main"]; got != last {
		t.Errorf("main %s, want %s", got, last)
	}
}

// A project without a repository is fed by pushes alone.
func TestPushOnlyMirror(t *testing.T) {
	m := newMirrors(t)
	if err := m.Create(ctx, "pushed", ""); err != nil {
		t.Fatal(err)
	}
	if h := heads(t, m, "pushed"); len(h) != 0 {
		t.Errorf("a new mirror has heads %v", h)
	}
	if err := m.Fetch(ctx, "pushed"); err != nil {
		t.Errorf("Fetch without an upstream: %v", err)
	}
	if _, err := m.Resolve(ctx, "pushed", "main"); !errors.Is(err, fault.NotFound) {
		t.Errorf("Resolve in an empty mirror: %v", err)
	}
	dev := newRepo(t)
	id := dev.git("rev-parse", "HEAD")
	push(t, dev, m, "pushed", "main")
	if err := m.Fetch(ctx, "pushed"); err != nil {
		t.Fatal(err)
	}
	if h := heads(t, m, "pushed"); h["refs/heads/main"] != id {
		t.Errorf("heads %v, want main at %s", h, id)
	}
	if b, err := m.File(ctx, "pushed", id, "velocity.yml"); err != nil || !strings.Contains(string(b), "hello") {
		t.Errorf("File: %q, %v", b, err)
	}
	if head := gitIn(t, m.Path("pushed"), "symbolic-ref", "HEAD"); head != "refs/heads/main" {
		t.Errorf("HEAD is %s", head)
	}
}

// A repository without commits yet is a valid upstream: its first commit
// arrives with a later fetch.
func TestCreateFromAnEmptyRepository(t *testing.T) {
	newRepo(t) // skips without git
	up := &repo{t: t, dir: t.TempDir()}
	up.git("init", "-q", "-b", "main")
	m := newMirrors(t)
	if err := m.Create(ctx, "e", up.dir); err != nil {
		t.Fatal(err)
	}
	if h := heads(t, m, "e"); len(h) != 0 {
		t.Errorf("heads %v", h)
	}
	if err := m.Fetch(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	first := up.commit("velocity.yml", "name: e\n")
	if err := m.Fetch(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	if h := heads(t, m, "e"); h["refs/heads/main"] != first {
		t.Errorf("heads %v, want main at %s", h, first)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://alice:s3cret@example.com/r.git": "https://xxxxx@example.com/r.git",
		"https://ghp_T0KEN@example.com/r.git":    "https://xxxxx@example.com/r.git",
		"git@example.com:r.git":                  "git@example.com:r.git",
		"/srv/r":                                 "/srv/r",
	} {
		if got := mirror.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCloneErrorHidesTheToken: git quotes the URL it could not reach,
// and a forge's access token is the URL's user name.
func TestCloneErrorHidesTheToken(t *testing.T) {
	m := mirror.Mirrors{Dir: t.TempDir()}
	err := m.Create(context.Background(), "p", "http://ghp_S3CRETTOKEN@127.0.0.1:1/x.git")
	if err == nil {
		t.Fatal("cloning from a closed port succeeded")
	}
	if strings.Contains(err.Error(), "S3CRETTOKEN") {
		t.Errorf("the error shows the token: %v", err)
	}
}
