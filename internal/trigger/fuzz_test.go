package trigger_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/trigger"
)

// fuzzParse feeds a provider's parser bodies signed with the right secret,
// so the fuzzer gets past the signature into the payload: any input either
// parses into a push whose every field passes the checks, or fails with
// an Invalid error; none panics.
func fuzzParse(f *testing.F, p trigger.Provider, event string, seeds ...string) {
	for _, s := range seeds {
		b, err := os.ReadFile(filepath.Join("testdata", s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "d-1")
	}
	f.Add([]byte(`{"ref":"refs/heads/a","before":"`+strings.Repeat("0", 40)+`","after":"`+strings.Repeat("1", 40)+`"}`), "x")
	f.Fuzz(func(t *testing.T, body []byte, delivery string) {
		ev, err := trigger.Parse(p, headers(p, event, delivery, body, secret), body, secret)
		if err != nil {
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("error of kind %v: %v", fault.KindOf(err), err)
			}
			return
		}
		if ev.Delivery != delivery || ev.Kind != trigger.KindPush {
			t.Fatalf("event %+v for delivery %q", ev, delivery)
		}
		checkPush(t, *ev.Push)
	})
}

func checkPush(t *testing.T, p trigger.Push) {
	t.Helper()
	if !strings.HasPrefix(p.Ref, "refs/") || strings.Contains(p.Ref, "..") {
		t.Fatalf("ref %q", p.Ref)
	}
	for _, s := range []string{p.Ref, p.Pusher, p.Repository, p.Branch, p.Tag} {
		if strings.ContainsAny(s, "\x00\n\r\x1b") {
			t.Fatalf("control character in %q", s)
		}
	}
	if p.Branch != "" && p.Ref != "refs/heads/"+p.Branch || p.Tag != "" && p.Ref != "refs/tags/"+p.Tag {
		t.Fatalf("ref %q gave branch %q tag %q", p.Ref, p.Branch, p.Tag)
	}
	if len(p.After) != 40 && len(p.After) != 64 || len(p.Before) != len(p.After) {
		t.Fatalf("commits %q %q", p.Before, p.After)
	}
	if !p.Deleted && strings.Trim(p.After, "0") == "" {
		t.Fatalf("deleted %v with after %q", p.Deleted, p.After)
	}
}

func FuzzGitHub(f *testing.F) {
	fuzzParse(f, trigger.GitHub, "push", "github_push.json", "github_push_branch.json")
}

func FuzzGitLab(f *testing.F) {
	fuzzParse(f, trigger.GitLab, "Push Hook", "gitlab_push.json", "gitlab_tag_push.json")
}

func FuzzGitea(f *testing.F) {
	fuzzParse(f, trigger.Gitea, "push", "gitea_push.json")
}

// FuzzSignature: whatever signature header arrives, only the true one
// passes, and every other is Unauthorised.
func FuzzSignature(f *testing.F) {
	body := []byte(`{"ref":"refs/heads/a"}`)
	f.Add("sha256=" + sign(body, secret))
	f.Add("sha256=")
	f.Add("")
	f.Fuzz(func(t *testing.T, sig string) {
		h := http.Header{}
		h.Set("X-GitHub-Event", "ping")
		h.Set("X-GitHub-Delivery", "d")
		h.Set("X-Hub-Signature-256", sig)
		_, err := trigger.Parse(trigger.GitHub, h, body, secret)
		if strings.EqualFold(h.Get("X-Hub-Signature-256"), "sha256="+sign(body, secret)) {
			return
		}
		if !errors.Is(err, fault.Unauthorised) {
			t.Fatalf("signature %q: %v", sig, err)
		}
	})
}

// FuzzParseCron: any expression and zone either parses or is Invalid; a
// parsed one fires strictly after the time asked, and Missed never
// returns a time outside (last, now].
func FuzzParseCron(f *testing.F) {
	f.Add("0 3 * * *", "Europe/Berlin", int64(1_790_000_000))
	f.Add("30 2 * * *", "America/New_York", int64(1_793_000_000))
	f.Add("@every 90s", "", int64(0))
	f.Add("*/7 1-5 1,15 FEB-MAR SUN", "Australia/Lord_Howe", int64(1_800_000_000))
	f.Fuzz(func(t *testing.T, expr, tz string, unix int64) {
		c, err := trigger.ParseCron(expr, tz)
		if err != nil {
			if !errors.Is(err, fault.Invalid) {
				t.Fatalf("error of kind %v: %v", fault.KindOf(err), err)
			}
			return
		}
		from := time.Unix(unix%(1<<34), 0)
		next := c.Next(from)
		if !next.IsZero() && !next.After(from) {
			t.Fatalf("%q: next %v is not after %v", expr, next, from)
		}
		now := from.Add(40 * 24 * time.Hour)
		if m, ok := c.Missed(from, now); ok && (!m.After(from) || m.After(now)) {
			t.Fatalf("%q: missed %v outside (%v, %v]", expr, m, from, now)
		}
	})
}
