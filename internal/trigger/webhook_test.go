package trigger_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/trigger"
)

var secret = []byte("It's a Secret to Everybody")

func sign(body, key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func load(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// headers builds a provider's request headers for body, as the provider
// signs them with key.
func headers(p trigger.Provider, event, delivery string, body, key []byte) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	switch p {
	case trigger.GitHub:
		h.Set("X-GitHub-Event", event)
		h.Set("X-GitHub-Delivery", delivery)
		h.Set("X-Hub-Signature-256", "sha256="+sign(body, key))
	case trigger.GitLab:
		h.Set("X-Gitlab-Event", event)
		h.Set("Idempotency-Key", delivery)
		h.Set("X-Gitlab-Token", string(key))
	case trigger.Gitea:
		h.Set("X-Gitea-Event", event)
		h.Set("X-Gitea-Delivery", delivery)
		h.Set("X-Gitea-Signature", sign(body, key))
	}
	return h
}

// The payloads in testdata have the shapes the providers document:
// github_push.json and github_ping.json follow GitHub's "Webhook events
// and payloads" examples (push, ping); gitlab_push.json and
// gitlab_tag_push.json GitLab's "Webhook events" (push events, tag
// events); gitea_push.json Gitea's "Webhooks" page example.
func TestParseDocumentedPayloads(t *testing.T) {
	for _, c := range []struct {
		file     string
		provider trigger.Provider
		event    string
		want     trigger.Push
		ignored  bool
	}{
		{"github_push_branch.json", trigger.GitHub, "push", trigger.Push{
			Ref: "refs/heads/main", Branch: "main",
			Before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", After: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
			Pusher: "Codertocat", Repository: "Codertocat/Hello-World"}, false},
		{"github_push.json", trigger.GitHub, "push", trigger.Push{
			Ref: "refs/heads/main", Branch: "main", Deleted: true,
			Before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", After: strings.Repeat("0", 40),
			Pusher: "Codertocat", Repository: "Codertocat/Hello-World"}, true},
		{"gitlab_push.json", trigger.GitLab, "Push Hook", trigger.Push{
			Ref: "refs/heads/master", Branch: "master",
			Before: "95790bf891e76fee5e1747ab589903a6a1f80f22", After: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
			Pusher: "jsmith", Repository: "mike/diaspora"}, false},
		{"gitlab_tag_push.json", trigger.GitLab, "Tag Push Hook", trigger.Push{
			Ref: "refs/tags/v1.0.0", Tag: "v1.0.0",
			Before: strings.Repeat("0", 40), After: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
			Pusher: "jsmith", Repository: "jsmith/example"}, true},
		{"gitea_push.json", trigger.Gitea, "push", trigger.Push{
			Ref: "refs/heads/develop", Branch: "develop",
			Before: "28e1879d029cb852e4844d9c718537df08844e03", After: "bffeb74224043ba2feb48d137756c8a9331c449a",
			Pusher: "gitea", Repository: "gitea/webhooks"}, false},
	} {
		t.Run(c.file, func(t *testing.T) {
			body := load(t, c.file)
			ev, err := trigger.Parse(c.provider, headers(c.provider, c.event, "d-1", body, secret), body, secret)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != trigger.KindPush || ev.Push == nil || ev.Provider != c.provider || ev.Delivery != "d-1" {
				t.Fatalf("event %+v", ev)
			}
			if *ev.Push != c.want {
				t.Errorf("push\n %+v\nwant\n %+v", *ev.Push, c.want)
			}
			if got := ev.Push.Ignored() != ""; got != c.ignored {
				t.Errorf("ignored %q, want ignored %v", ev.Push.Ignored(), c.ignored)
			}
		})
	}
}

func TestGitHubPing(t *testing.T) {
	body := load(t, "github_ping.json")
	ev, err := trigger.Parse(trigger.GitHub, headers(trigger.GitHub, "ping", "p-1", body, secret), body, secret)
	if err != nil || ev.Kind != trigger.KindPing || ev.Push != nil {
		t.Fatalf("ping: %+v, %v", ev, err)
	}
	// A ping is signed like any delivery: an unsigned one is refused.
	h := headers(trigger.GitHub, "ping", "p-1", body, []byte("other"))
	if _, err := trigger.Parse(trigger.GitHub, h, body, secret); !errors.Is(err, fault.Unauthorised) {
		t.Fatalf("ping signed with another secret: %v", err)
	}
}

// Events the hook sends besides pushes are reported, not refused, so the
// server can answer them without a run.
func TestOtherEvents(t *testing.T) {
	for p, event := range map[trigger.Provider]string{trigger.GitHub: "issues", trigger.GitLab: "Merge Request Hook", trigger.Gitea: "create"} {
		body := []byte(`{"action":"opened"}`)
		ev, err := trigger.Parse(p, headers(p, event, "o-1", body, secret), body, secret)
		if err != nil || ev.Kind != trigger.KindOther || ev.Name != event {
			t.Errorf("%s %s: %+v, %v", p, event, ev, err)
		}
	}
}

// Whatever else a request says, a wrong or missing signature is
// Unauthorised, checked before the body is read.
func TestSignatureRefused(t *testing.T) {
	body := load(t, "github_push_branch.json")
	tampered := bytes.Replace(body, []byte("refs/heads/main"), []byte("refs/heads/evil"), 1)
	for _, p := range []trigger.Provider{trigger.GitHub, trigger.GitLab, trigger.Gitea} {
		cases := map[string]http.Header{
			"other secret": headers(p, "push", "d", body, []byte("guess")),
			"no signature": func() http.Header {
				h := headers(p, "push", "d", body, secret)
				h.Del("X-Hub-Signature-256")
				h.Del("X-Gitlab-Token")
				h.Del("X-Gitea-Signature")
				return h
			}(),
			"secret prefix": headers(p, "push", "d", body, secret[:len(secret)-1]),
		}
		if p != trigger.GitLab {
			// GitLab signs nothing: its token proves the sender, not the body.
			cases["tampered body"] = headers(p, "push", "d", tampered, secret)
			cases["not hex"] = func() http.Header {
				h := headers(p, "push", "d", body, secret)
				h.Set("X-Hub-Signature-256", "sha256=zz")
				h.Set("X-Gitea-Signature", "zz")
				return h
			}()
		}
		for name, h := range cases {
			if _, err := trigger.Parse(p, h, body, secret); !errors.Is(err, fault.Unauthorised) {
				t.Errorf("%s, %s: %v, want Unauthorised", p, name, err)
			}
		}
		if _, err := trigger.Parse(p, headers(p, "push", "d", body, nil), body, nil); !errors.Is(err, fault.Unauthorised) {
			t.Errorf("%s without a secret configured: %v, want Unauthorised", p, err)
		}
	}
	h := headers(trigger.GitHub, "push", "d", body, secret)
	h.Set("X-Hub-Signature-256", "sha1="+sign(body, secret))
	if _, err := trigger.Parse(trigger.GitHub, h, body, secret); !errors.Is(err, fault.Unauthorised) {
		t.Errorf("github sha1 signature: %v, want Unauthorised", err)
	}
}

// A signed body that is no push a run can trust is Invalid.
func TestInvalidPush(t *testing.T) {
	good := `{"ref":"refs/heads/main","before":"` + strings.Repeat("a", 40) + `","after":"` + strings.Repeat("b", 40) + `"}`
	for name, body := range map[string]string{
		"not json":        `ref=main`,
		"trailing data":   good + `{}`,
		"no ref":          `{"before":"` + strings.Repeat("a", 40) + `","after":"` + strings.Repeat("b", 40) + `"}`,
		"short ref":       strings.Replace(good, "refs/heads/main", "main", 1),
		"dotdot":          strings.Replace(good, "refs/heads/main", "refs/heads/../../etc", 1),
		"newline":         strings.Replace(good, "refs/heads/main", `refs/heads/ma\nin`, 1),
		"space":           strings.Replace(good, "refs/heads/main", `refs/heads/a b`, 1),
		"lock":            strings.Replace(good, "refs/heads/main", `refs/heads/x.lock`, 1),
		"reflog syntax":   strings.Replace(good, "refs/heads/main", `refs/heads/x@{1}`, 1),
		"short commit":    strings.Replace(good, strings.Repeat("b", 40), "bbbb", 1),
		"upper hex":       strings.Replace(good, strings.Repeat("b", 40), strings.Repeat("B", 40), 1),
		"shell in commit": strings.Replace(good, strings.Repeat("b", 40), "$(reboot)"+strings.Repeat("b", 31), 1),
		"mixed lengths":   strings.Replace(good, strings.Repeat("b", 40), strings.Repeat("b", 64), 1),
		"pusher control":  strings.Replace(good, `"ref"`, `"pusher":{"name":"a\u001b[2Jb"},"ref"`, 1),
	} {
		h := headers(trigger.GitHub, "push", "d", []byte(body), secret)
		if _, err := trigger.Parse(trigger.GitHub, h, []byte(body), secret); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
	// SHA-256 repositories have 64-digit ids.
	sha256Push := strings.ReplaceAll(strings.ReplaceAll(good, strings.Repeat("a", 40), strings.Repeat("a", 64)), strings.Repeat("b", 40), strings.Repeat("b", 64))
	h := headers(trigger.GitHub, "push", "d", []byte(sha256Push), secret)
	if ev, err := trigger.Parse(trigger.GitHub, h, []byte(sha256Push), secret); err != nil || ev.Push.After != strings.Repeat("b", 64) {
		t.Errorf("sha-256 push: %+v, %v", ev, err)
	}
}

func TestDeliveryRequired(t *testing.T) {
	body := load(t, "gitea_push.json")
	h := headers(trigger.Gitea, "push", "", body, secret)
	if _, err := trigger.Parse(trigger.Gitea, h, body, secret); !errors.Is(err, fault.Invalid) {
		t.Errorf("gitea without delivery: %v, want Invalid", err)
	}
	h = headers(trigger.GitHub, "push", "id with space", body, secret)
	if _, err := trigger.Parse(trigger.GitHub, h, body, secret); !errors.Is(err, fault.Invalid) {
		t.Errorf("github delivery with a space: %v, want Invalid", err)
	}
}

// GitLab before 17.4 sends no Idempotency-Key; its X-Gitlab-Event-UUID
// names the delivery then.
func TestGitLabEventUUID(t *testing.T) {
	body := load(t, "gitlab_push.json")
	h := headers(trigger.GitLab, "Push Hook", "", body, secret)
	h.Del("Idempotency-Key")
	h.Set("X-Gitlab-Event-UUID", "62ed2f79-a64b-4ae6-8e5d-11c1a1ec0b31")
	ev, err := trigger.Parse(trigger.GitLab, h, body, secret)
	if err != nil || ev.Delivery != "62ed2f79-a64b-4ae6-8e5d-11c1a1ec0b31" {
		t.Fatalf("%+v, %v", ev, err)
	}
}

// Forgejo sends its own header names besides Gitea's.
func TestForgejoHeaders(t *testing.T) {
	body := load(t, "gitea_push.json")
	h := http.Header{}
	h.Set("X-Forgejo-Event", "push")
	h.Set("X-Forgejo-Delivery", "f-1")
	h.Set("X-Forgejo-Signature", sign(body, secret))
	ev, err := trigger.Parse(trigger.Gitea, h, body, secret)
	if err != nil || ev.Delivery != "f-1" || ev.Push.Branch != "develop" {
		t.Fatalf("%+v, %v", ev, err)
	}
}

// GitHub's form content type signs the form; the push is its payload field.
func TestGitHubFormBody(t *testing.T) {
	body := []byte("payload=" + url.QueryEscape(string(load(t, "github_push_branch.json"))))
	h := headers(trigger.GitHub, "push", "d", body, secret)
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	ev, err := trigger.Parse(trigger.GitHub, h, body, secret)
	if err != nil || ev.Push.Branch != "main" {
		t.Fatalf("%+v, %v", ev, err)
	}
}

func TestBodyLimit(t *testing.T) {
	big := bytes.Repeat([]byte(" "), trigger.MaxBody+1)
	if _, err := trigger.ReadBody(bytes.NewReader(big)); !errors.Is(err, fault.Invalid) {
		t.Errorf("read %d bytes: %v, want Invalid", len(big), err)
	}
	if b, err := trigger.ReadBody(bytes.NewReader(big[:trigger.MaxBody])); err != nil || len(b) != trigger.MaxBody {
		t.Errorf("read exactly the limit: %d, %v", len(b), err)
	}
	if _, err := trigger.Parse(trigger.GitHub, headers(trigger.GitHub, "push", "d", big, secret), big, secret); !errors.Is(err, fault.Invalid) {
		t.Errorf("parse %d bytes: %v, want Invalid", len(big), err)
	}
}
