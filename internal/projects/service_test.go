package projects

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/mirror"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/secret"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/trigger"
)

// fixture is a projects service on a fresh data directory with the real
// journal, runs service, local executor and git mirrors.
type fixture struct {
	t     *testing.T
	data  string
	store *sqlite.Store
	runs  *runs.Service
	svc   *Service
	// trace is appended to by the runs' actions; gate lets them finish.
	trace, gate string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	data := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(data, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := artifact.OpenBlobs(filepath.Join(data, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rs := runs.New(runs.Config{
		Store: st, Leases: st, DataDir: data, Blobs: blobs, Version: "test", Environ: os.Environ(),
		NewExecutor: func() (runs.Executor, error) { return local.New() },
		Logger:      quiet,
	})
	f := &fixture{t: t, data: data, store: st, runs: rs,
		trace: filepath.Join(t.TempDir(), "trace"), gate: filepath.Join(t.TempDir(), "gate")}
	f.svc = f.service()
	return f
}

// service is a Service on the fixture's data directory: a second one
// stands for the server after a restart.
func (f *fixture) service() *Service {
	sealer, err := secret.Open(filepath.Join(f.data, "secrets"), "")
	if err != nil {
		f.t.Fatal(err)
	}
	return New(Config{
		Store: f.store, Runs: f.runs, Mirrors: mirror.Mirrors{Dir: filepath.Join(f.data, "mirrors")}, Sealer: sealer,
		Template: runs.StartRequest{Jobs: 2}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// start runs svc until the test ends.
func (f *fixture) start(svc *Service) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("Run: %v", err)
		}
	})
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, _, err := gitRun(context.Background(), dir, append([]string{"-c", "user.name=T", "-c", "user.email=t@example.com",
		"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// repo makes a repository whose pipeline appends "start COMMIT" to the
// trace, waits for the gate, and appends "end COMMIT".
func (f *fixture) repo() string {
	t := f.t
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	yml := `stages:
  - name: build
    actions:
      - name: trace
        env: { TRACE: "` + f.trace + `", GATE: "` + f.gate + `" }
        run: |
          echo "start $VELOCITY_COMMIT" >> "$TRACE"
          while [ ! -f "$GATE" ]; do sleep 0.02; done
          sleep 0.2
          echo "end $VELOCITY_COMMIT" >> "$TRACE"
`
	if err := os.WriteFile(filepath.Join(dir, "velocity.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "pipeline")
	return dir
}

// commit makes a new commit in repo and returns its id.
func (f *fixture) commit(repo string) string {
	n := git(f.t, repo, "rev-list", "--count", "HEAD")
	if err := os.WriteFile(filepath.Join(repo, "n.txt"), []byte(n), 0o644); err != nil {
		f.t.Fatal(err)
	}
	git(f.t, repo, "add", "-A")
	git(f.t, repo, "commit", "-q", "-m", "change "+n)
	return git(f.t, repo, "rev-parse", "HEAD")
}

func (f *fixture) open() {
	if err := os.WriteFile(f.gate, nil, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) add(req AddRequest) Project {
	f.t.Helper()
	p, err := f.svc.Add(context.Background(), req)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) requests(project string) []store.Request {
	f.t.Helper()
	list, err := f.store.Requests(context.Background(), store.RequestFilter{Project: project})
	if err != nil {
		f.t.Fatal(err)
	}
	return list
}

// waitFor polls ok until it holds.
func (f *fixture) waitFor(what string, ok func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finished waits for n runs of project to have ended, and returns them
// oldest first.
func (f *fixture) finished(project string, n int) []store.Run {
	f.t.Helper()
	var list []store.Run
	f.waitFor(fmt.Sprintf("%d runs of %s to end", n, project), func() bool {
		var err error
		list, err = f.store.Runs(context.Background(), store.RunFilter{Project: project})
		if err != nil {
			f.t.Fatal(err)
		}
		if len(list) < n {
			return false
		}
		for _, r := range list {
			if !r.Status.Final() {
				return false
			}
		}
		return true
	})
	slices.Reverse(list)
	return list
}

// traced is the trace's lines.
func (f *fixture) traced() []string {
	data, err := os.ReadFile(f.trace)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func TestQueuedRunsOneAtATimeInOrder(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	f.add(AddRequest{Name: "shop", Repo: repo})
	f.open()
	f.start(f.svc)
	var commits []string
	for range 3 {
		c := f.commit(repo)
		commits = append(commits, c)
		if _, err := f.svc.Trigger(context.Background(), "shop", TriggerRequest{Ref: c, Trigger: "manual by token alice"}); err != nil {
			t.Fatal(err)
		}
	}
	done := f.finished("shop", 3)
	var want []string
	for i, c := range commits {
		want = append(want, "start "+c, "end "+c)
		if r := done[i]; r.Commit != c || r.Status != store.Succeeded || r.Trigger != "manual by token alice" || r.Project != "shop" {
			t.Errorf("run %d: %+v", i, r)
		}
	}
	if got := f.traced(); !slices.Equal(got, want) {
		t.Fatalf("trace:\n%s\nwant one run after another, in order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range f.requests("shop") {
		if r.State != store.RequestStarted || r.Run == 0 {
			t.Errorf("request %+v", r)
		}
	}
}

func TestSupersededDropsTheOlderWaitingRequest(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	f.add(AddRequest{Name: "shop", Repo: repo, Mode: Superseded})
	f.start(f.svc)
	ctx := context.Background()
	first, err := f.svc.Trigger(ctx, "shop", TriggerRequest{Ref: f.commit(repo)})
	if err != nil {
		t.Fatal(err)
	}
	f.waitFor("the first run to start", func() bool { return len(f.traced()) == 1 && f.traced()[0] != "" })
	older, err := f.svc.Trigger(ctx, "shop", TriggerRequest{Ref: f.commit(repo)})
	if err != nil {
		t.Fatal(err)
	}
	newer, err := f.svc.Trigger(ctx, "shop", TriggerRequest{Ref: f.commit(repo)})
	if err != nil {
		t.Fatal(err)
	}
	f.waitFor("the older request to be superseded", func() bool {
		r, _ := f.store.Request(ctx, older.ID)
		return r.State == store.RequestSuperseded
	})
	f.open()
	done := f.finished("shop", 2)
	if done[0].Commit != first.Commit || done[1].Commit != newer.Commit {
		t.Fatalf("runs of %s and %s, want %s (running) then %s (newest)", done[0].Commit, done[1].Commit, first.Commit, newer.Commit)
	}
	want := []string{"start " + first.Commit, "end " + first.Commit, "start " + newer.Commit, "end " + newer.Commit}
	if got := f.traced(); !slices.Equal(got, want) {
		t.Fatalf("trace:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r, _ := f.store.Request(ctx, older.ID); r.Run != 0 || !strings.Contains(r.Reason, fmt.Sprint(newer.ID)) {
		t.Errorf("superseded request %+v", r)
	}
}

func TestParallelRunsOverlap(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	f.add(AddRequest{Name: "shop", Repo: repo, Mode: Parallel})
	f.start(f.svc)
	ctx := context.Background()
	for range 2 {
		if _, err := f.svc.Trigger(ctx, "shop", TriggerRequest{Ref: f.commit(repo)}); err != nil {
			t.Fatal(err)
		}
	}
	// Both runs started while the gate is shut: neither waited for the other.
	f.waitFor("both runs to start", func() bool { return len(f.traced()) == 2 })
	f.open()
	f.finished("shop", 2)
}

// push is a GitHub push delivery of commit to branch, signed with secret.
func push(id, branch, commit string, secret []byte) (http.Header, []byte) {
	body := []byte(fmt.Sprintf(`{"ref":"refs/heads/%s","before":"%s","after":"%s","pusher":{"name":"bob"},"repository":{"full_name":"acme/shop"}}`,
		branch, strings.Repeat("0", len(commit)), commit))
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	h := http.Header{}
	h.Set("X-GitHub-Event", "push")
	h.Set("X-GitHub-Delivery", id)
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	h.Set("Content-Type", "application/json")
	return h, body
}

func TestWebhookQueuesEachDeliveryOnce(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	hookSecret := []byte("hook secret")
	f.add(AddRequest{Name: "shop", Repo: repo, WebhookSecret: hookSecret})
	f.open()
	ctx := context.Background()
	c := f.commit(repo)
	if rec, err := f.store.Project(ctx, "shop"); err != nil || len(rec.WebhookSecret) == 0 || strings.Contains(string(rec.WebhookSecret), string(hookSecret)) {
		t.Fatalf("the journal holds the webhook secret as %q, %v; want it sealed", rec.WebhookSecret, err)
	}

	// A wrong signature: refused, nothing recorded.
	h, body := push("d-0", "main", c, []byte("wrong"))
	if _, err := f.svc.Webhook(ctx, trigger.GitHub, "shop", h, body); !errors.Is(err, fault.Unauthorised) {
		t.Fatalf("wrong signature: %v, want unauthorised", err)
	}
	h.Del("X-Hub-Signature-256")
	if _, err := f.svc.Webhook(ctx, trigger.GitHub, "shop", h, body); !errors.Is(err, fault.Unauthorised) {
		t.Fatalf("no signature: %v, want unauthorised", err)
	}
	if got := f.requests("shop"); len(got) != 0 {
		t.Fatalf("refused webhooks queued %+v", got)
	}

	// Another branch: ignored, saying why.
	h, body = push("d-1", "feature", c, hookSecret)
	res, err := f.svc.Webhook(ctx, trigger.GitHub, "shop", h, body)
	if err != nil || res.Outcome != Ignored || !strings.Contains(res.Message, "feature") {
		t.Fatalf("push to another branch: %+v, %v", res, err)
	}

	// A ping, and a tag: answered, nothing queued.
	h, body = push("d-p", "main", c, hookSecret)
	h.Set("X-GitHub-Event", "ping")
	if res, err := f.svc.Webhook(ctx, trigger.GitHub, "shop", h, body); err != nil || res.Outcome != Pong {
		t.Fatalf("ping: %+v, %v", res, err)
	}
	h, body = push("d-t", "main", c, hookSecret)
	body = []byte(strings.Replace(string(body), "refs/heads/main", "refs/tags/v1", 1))
	mac := hmac.New(sha256.New, hookSecret)
	mac.Write(body)
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	if res, err := f.svc.Webhook(ctx, trigger.GitHub, "shop", h, body); err != nil || res.Outcome != Ignored {
		t.Fatalf("tag push: %+v, %v", res, err)
	}
	if got := f.requests("shop"); len(got) != 0 {
		t.Fatalf("ping and tag queued %+v", got)
	}

	// The same delivery twice: one request, recorded before the answer.
	h, body = push("d-2", "main", c, hookSecret)
	res, err = f.svc.Webhook(ctx, trigger.GitHub, "shop", h, body)
	if err != nil || res.Outcome != Accepted || res.Request == nil || res.Request.Commit != c {
		t.Fatalf("first delivery: %+v, %v", res, err)
	}
	if got := f.requests("shop"); len(got) != 1 || got[0].Commit != c || got[0].State != store.RequestWaiting ||
		got[0].Trigger != "webhook delivery d-2 (github, push by bob)" {
		t.Fatalf("requests after the delivery: %+v", got)
	}
	res, err = f.svc.Webhook(ctx, trigger.GitHub, "shop", h, body)
	if err != nil || res.Outcome != Duplicate {
		t.Fatalf("second delivery: %+v, %v", res, err)
	}
	f.start(f.svc)
	done := f.finished("shop", 1)
	if done[0].Commit != c || done[0].Branch != "main" || done[0].Status != store.Succeeded {
		t.Fatalf("run %+v", done[0])
	}
	if got := f.requests("shop"); len(got) != 1 {
		t.Fatalf("requests: %+v", got)
	}

	// The same signed body under a new delivery id (forges do not sign
	// the id) queues nothing: its commit is the last one queued.
	h, body = push("d-9", "main", c, hookSecret)
	if res, err := f.svc.Webhook(ctx, trigger.GitHub, "shop", h, body); err != nil || res.Outcome != Duplicate {
		t.Fatalf("a replay under a new delivery id: %+v, %v", res, err)
	}

	// A commit the repository does not have is queued (the answer does
	// not wait for a fetch) and fails before any run, saying why.
	h, body = push("d-3", "main", strings.Repeat("ab", 20), hookSecret)
	if res, err := f.svc.Webhook(ctx, trigger.GitHub, "shop", h, body); err != nil || res.Outcome != Accepted {
		t.Fatalf("a push of a commit the repository lacks: %+v, %v", res, err)
	}
	f.waitFor("the request of the missing commit to fail", func() bool {
		got := f.requests("shop")
		return len(got) == 2 && got[1].State == store.RequestFailed && strings.Contains(got[1].Reason, "not in the project's repository")
	})
	if runs := f.finished("shop", 1); len(runs) != 1 {
		t.Fatalf("runs: %+v", runs)
	}
}

func TestPollingQueuesEachNewHeadOnce(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	f.add(AddRequest{Name: "shop", Repo: repo, Poll: time.Second})
	f.open()
	f.start(f.svc)
	ctx := context.Background()
	for i := 1; i <= 2; i++ {
		c := f.commit(repo)
		f.waitFor("the poll to queue the new head", func() bool { return len(f.requests("shop")) == i })
		f.finished("shop", i)
		// Polls after that find nothing new.
		time.Sleep(2500 * time.Millisecond)
		got := f.requests("shop")
		if len(got) != i || got[i-1].Commit != c || got[i-1].Trigger != "poll" {
			t.Fatalf("requests after commit %d: %+v", i, got)
		}
	}
	d, err := f.svc.Show(ctx, "shop")
	if err != nil || len(d.Runs) != 2 || len(d.Waiting) != 0 || d.Head != f.requests("shop")[1].Commit {
		t.Fatalf("show: %+v, %v", d, err)
	}
}

func TestWaitingRequestsStartAfterARestart(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	f.add(AddRequest{Name: "shop", Repo: repo})
	f.open()
	ctx := context.Background()
	// The first process queued two requests and took one of them without
	// starting its run, then died holding the project's dispatch.
	a, err := f.svc.Trigger(ctx, "shop", TriggerRequest{Ref: f.commit(repo)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.Trigger(ctx, "shop", TriggerRequest{Ref: f.commit(repo)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.TakeRequest(ctx, a.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AcquireLease(ctx, dispatchLease("shop"), "dead-host/1/x", time.Second, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.start(f.service())
	done := f.finished("shop", 2)
	if done[0].Commit != a.Commit || done[1].Commit != b.Commit {
		t.Fatalf("runs after the restart: %+v", done)
	}
}

func TestPushedQueuesTheProjectsBranch(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	f.add(AddRequest{Name: "shop", Repo: repo})
	ctx := context.Background()
	c := f.commit(repo)
	zero := strings.Repeat("0", 40)
	err := f.svc.Pushed(ctx, "shop", "alice", []RefUpdate{
		{Ref: "refs/heads/feature", Before: zero, After: c},
		{Ref: "refs/tags/v1", Before: zero, After: c},
		{Ref: "refs/heads/main", Before: zero, After: c},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := f.requests("shop")
	if len(got) != 1 || got[0].Commit != c || got[0].Branch != "main" || got[0].Trigger != "push by alice" {
		t.Fatalf("requests: %+v", got)
	}
	if err := f.svc.Pushed(ctx, "shop", "alice", []RefUpdate{{Ref: "refs/heads/main", Before: c, After: zero}}); err != nil {
		t.Fatal(err)
	}
	if got := f.requests("shop"); len(got) != 1 {
		t.Fatalf("a deletion queued a request: %+v", got)
	}
}

func TestAddListShowRemove(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	ctx := context.Background()
	p := f.add(AddRequest{Name: "shop", Repo: repo, WebhookSecret: []byte("s")})
	if p.Mode != Queued || p.Branch != "main" || !p.Webhooks || p.Head == "" {
		t.Errorf("added %+v", p)
	}
	for _, bad := range []AddRequest{
		{Name: "Shop"}, {Name: "-x"}, {Name: strings.Repeat("a", 65)}, {Name: "a/b"},
		{Name: "ok", Mode: "sometimes"}, {Name: "ok", Branch: "a..b"}, {Name: "ok", Poll: time.Minute},
	} {
		if _, err := f.svc.Add(ctx, bad); !errors.Is(err, fault.Invalid) {
			t.Errorf("Add(%+v): %v, want invalid", bad, err)
		}
	}
	if _, err := f.svc.Add(ctx, AddRequest{Name: "shop"}); !errors.Is(err, fault.Conflict) {
		t.Errorf("a second shop: %v, want a conflict", err)
	}
	if _, err := f.svc.Add(ctx, AddRequest{Name: "gone", Repo: filepath.Join(t.TempDir(), "nothing")}); err == nil {
		t.Error("a project of a repository that does not exist was added")
	}
	if _, err := os.Stat(filepath.Join(f.data, "mirrors", "gone.git")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed add left its mirror: %v", err)
	}
	f.add(AddRequest{Name: "blank"})
	list, err := f.svc.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "blank" || list[1].Name != "shop" {
		t.Fatalf("list: %+v, %v", list, err)
	}
	dir, err := f.svc.MirrorDir(ctx, "shop")
	if err != nil || dir != filepath.Join(f.data, "mirrors", "shop.git") {
		t.Errorf("mirror dir %q, %v", dir, err)
	}
	if err := f.svc.Remove(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Show(ctx, "shop"); !errors.Is(err, fault.NotFound) {
		t.Errorf("show of a removed project: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the mirror stays after remove: %v", err)
	}
	if _, err := f.svc.MirrorDir(ctx, "shop"); !errors.Is(err, fault.NotFound) {
		t.Errorf("mirror dir of a removed project: %v", err)
	}
}

func TestARequestWhoseRunCannotStartFailsWithTheReason(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	f.add(AddRequest{Name: "shop", Repo: repo})
	f.open()
	ctx := context.Background()
	git(t, repo, "rm", "-q", "velocity.yml")
	git(t, repo, "commit", "-q", "-m", "no pipeline")
	broken := git(t, repo, "rev-parse", "HEAD")
	git(t, repo, "revert", "--no-edit", "HEAD")
	fixed := git(t, repo, "rev-parse", "HEAD")
	bad, err := f.svc.Trigger(ctx, "shop", TriggerRequest{Ref: broken})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Trigger(ctx, "shop", TriggerRequest{Ref: fixed}); err != nil {
		t.Fatal(err)
	}
	f.start(f.svc)
	// The queue goes on past the request that failed.
	done := f.finished("shop", 1)
	if done[0].Commit != fixed || done[0].Status != store.Succeeded {
		t.Fatalf("run %+v", done[0])
	}
	r, err := f.store.Request(ctx, bad.ID)
	if err != nil || r.State != store.RequestFailed || !strings.Contains(r.Reason, "velocity.yml") {
		t.Fatalf("request of a commit without a pipeline: %+v, %v", r, err)
	}
}

// Two servers sharing one journal take each request once.
func TestTwoDispatchersStartEachRequestOnce(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	f.add(AddRequest{Name: "shop", Repo: repo, Mode: Parallel})
	f.open()
	ctx := context.Background()
	for range 4 {
		if _, err := f.svc.Trigger(ctx, "shop", TriggerRequest{Ref: f.commit(repo)}); err != nil {
			t.Fatal(err)
		}
	}
	f.start(f.service())
	f.start(f.service())
	done := f.finished("shop", 4)
	time.Sleep(300 * time.Millisecond)
	if list, _ := f.store.Runs(ctx, store.RunFilter{Project: "shop"}); len(list) != 4 {
		t.Fatalf("%d runs of 4 requests", len(list))
	}
	seen := map[string]bool{}
	for _, r := range done {
		if seen[r.Commit] {
			t.Errorf("commit %s ran twice", r.Commit)
		}
		seen[r.Commit] = true
	}
}
