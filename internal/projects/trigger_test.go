package projects

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/trigger"
)

// A ref that git could read as an option, or that is no single word, is
// refused before it reaches git, and nothing is queued.
func TestTriggerRefusesOptionLikeRefs(t *testing.T) {
	f := newFixture(t)
	f.add(AddRequest{Name: "shop", Repo: f.repo()})
	for _, ref := range []string{"-x", "--upload-pack=touch /tmp/owned", "a b", "a\tb", "a\nb", "a\x00b"} {
		if _, err := f.svc.Trigger(context.Background(), "shop", TriggerRequest{Ref: ref}); !errors.Is(err, fault.Invalid) {
			t.Errorf("ref %q: %v, want Invalid", ref, err)
		}
	}
	if got := f.requests("shop"); len(got) != 0 {
		t.Errorf("refused refs queued %+v", got)
	}
}

// A run asked for without a ref runs the head of the project's branch; a
// branch made in the repository after the project was added is fetched
// and named as a branch; a commit id is no branch.
func TestTriggerResolvesBranchesAndCommits(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	first := git(t, repo, "rev-parse", "HEAD")
	f.add(AddRequest{Name: "shop", Repo: repo})
	ctx := context.Background()
	head := f.commit(repo)
	git(t, repo, "branch", "feature")

	for _, c := range []struct {
		req                     TriggerRequest
		commit, branch, trigger string
	}{
		// First: the mirror has not fetched feature yet.
		{TriggerRequest{Ref: "feature", Trigger: "manual by token ci"}, head, "feature", "manual by token ci"},
		{TriggerRequest{}, head, "main", "manual"},
		{TriggerRequest{Ref: first}, first, "", "manual"},
	} {
		r, err := f.svc.Trigger(ctx, "shop", c.req)
		if err != nil {
			t.Fatalf("%+v: %v", c.req, err)
		}
		if r.Commit != c.commit || r.Branch != c.branch {
			t.Errorf("%+v: commit %s branch %q; want %s %q", c.req, r.Commit, r.Branch, c.commit, c.branch)
		}
	}
	got := f.requests("shop")
	if len(got) != 3 || got[0].Trigger != "manual by token ci" || got[1].Trigger != "manual" {
		t.Errorf("requests %+v", got)
	}
}

// A push whose payload names no pusher is recorded by its delivery and
// provider alone.
func TestWebhookWithoutAPusher(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	secret := []byte("hook secret")
	f.add(AddRequest{Name: "shop", Repo: repo, WebhookSecret: secret})
	c := f.commit(repo)
	_, body := push("d-1", "main", c, secret)
	body = []byte(strings.Replace(string(body), `"pusher":{"name":"bob"},`, "", 1))
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	h := http.Header{}
	h.Set("X-GitHub-Event", "push")
	h.Set("X-GitHub-Delivery", "d-1")
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	res, err := f.svc.Webhook(context.Background(), trigger.GitHub, "shop", h, body)
	if err != nil || res.Outcome != Accepted {
		t.Fatalf("%+v, %v", res, err)
	}
	if got := f.requests("shop"); len(got) != 1 || got[0].Trigger != "webhook delivery d-1 (github)" {
		t.Errorf("requests %+v", got)
	}
	if err := f.svc.Pushed(context.Background(), "shop", "", []RefUpdate{{Ref: "refs/heads/main", Before: c, After: f.commit(repo)}}); err != nil {
		t.Fatal(err)
	}
	if got := f.requests("shop"); len(got) != 2 || got[1].Trigger != "push" {
		t.Errorf("a push without a token: %+v", got)
	}
}
