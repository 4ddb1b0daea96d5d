package trigger_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/trigger"
)

// push is a GitHub push body for ref, pushed by pusher to repo.
func push(ref, pusher, repo string) []byte {
	return []byte(`{"ref":"` + ref + `","before":"` + strings.Repeat("a", 40) + `","after":"` + strings.Repeat("b", 40) +
		`","pusher":{"name":"` + pusher + `"},"repository":{"full_name":"` + repo + `"}}`)
}

func parseGitHub(body []byte, delivery string) (trigger.Event, error) {
	return trigger.Parse(trigger.GitHub, headers(trigger.GitHub, "push", delivery, body, secret), body, secret)
}

// The limits on what a payload carries are inclusive: a value of exactly
// the limit is taken, one byte more is Invalid.
func TestPayloadLimitsAreInclusive(t *testing.T) {
	ref := "refs/heads/" + strings.Repeat("r", 1024-len("refs/heads/"))
	if ev, err := parseGitHub(push(ref, "p", "o/r"), "d"); err != nil || ev.Push.Ref != ref {
		t.Errorf("ref of 1024 bytes: %v", err)
	}
	if _, err := parseGitHub(push(ref+"r", "p", "o/r"), "d"); !errors.Is(err, fault.Invalid) {
		t.Errorf("ref of 1025 bytes: %v, want Invalid", err)
	}
	name := strings.Repeat("n", 256)
	if ev, err := parseGitHub(push("refs/heads/main", name, name), "d"); err != nil || ev.Push.Pusher != name || ev.Push.Repository != name {
		t.Errorf("pusher and repository of 256 bytes: %+v, %v", ev.Push, err)
	}
	for what, body := range map[string][]byte{
		"pusher":     push("refs/heads/main", name+"n", "o/r"),
		"repository": push("refs/heads/main", "p", name+"n"),
	} {
		if _, err := parseGitHub(body, "d"); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s of 257 bytes: %v, want Invalid", what, err)
		}
	}
	body := push("refs/heads/main", "p", "o/r")
	if ev, err := parseGitHub(body, strings.Repeat("d", 256)); err != nil || len(ev.Delivery) != 256 {
		t.Errorf("delivery id of 256 bytes: %v", err)
	}
	if _, err := parseGitHub(body, strings.Repeat("d", 257)); !errors.Is(err, fault.Invalid) {
		t.Errorf("delivery id of 257 bytes: %v, want Invalid", err)
	}
}

// A delivery id is any visible ASCII, '!' to '~'; anything else is
// Invalid before it reaches a log or the store.
func TestDeliveryIsVisibleASCII(t *testing.T) {
	body := push("refs/heads/main", "p", "o/r")
	for _, id := range []string{"!", "~", "a!b~c", "72d3162e-cc78-11e3-81ab-4c9367dc0958"} {
		if ev, err := parseGitHub(body, id); err != nil || ev.Delivery != id {
			t.Errorf("delivery %q: %+v, %v", id, ev, err)
		}
	}
	for _, id := range []string{"a b", "a\x7fb", "a\tb", "é"} {
		if _, err := parseGitHub(body, id); !errors.Is(err, fault.Invalid) {
			t.Errorf("delivery %q: %v, want Invalid", id, err)
		}
	}
}

// The name of an event that starts no run is echoed back and logged:
// visible ASCII is kept as sent up to 80 bytes, longer names are cut
// there, anything else shows as '?'.
func TestOtherEventNameIsClipped(t *testing.T) {
	body := []byte(`{}`)
	for sent, want := range map[string]string{
		"pull_request_review~":  "pull_request_review~",
		strings.Repeat("e", 80): strings.Repeat("e", 80),
		strings.Repeat("e", 81): strings.Repeat("e", 80) + "…",
		"a\x01b\x7fc":           "a?b?c",
		"space is kept":         "space is kept",
	} {
		h := headers(trigger.GitHub, sent, "d", body, secret)
		ev, err := trigger.Parse(trigger.GitHub, h, body, secret)
		if err != nil || ev.Kind != trigger.KindOther || ev.Name != want {
			t.Errorf("event %q: %+v, %v; want name %q", sent, ev, err, want)
		}
	}
}

// The refusal says what is wrong with GitHub's signature header, so that
// whoever set the hook up can tell a missing header from the wrong one.
func TestGitHubSignatureRefusalSaysWhy(t *testing.T) {
	body := push("refs/heads/main", "p", "o/r")
	h := headers(trigger.GitHub, "push", "d", body, secret)
	h.Set("X-Hub-Signature-256", "sha1="+sign(body, secret))
	if _, err := trigger.Parse(trigger.GitHub, h, body, secret); !errors.Is(err, fault.Unauthorised) || !strings.Contains(err.Error(), `"sha256="`) {
		t.Errorf("sha1 signature: %v, want Unauthorised naming sha256=", err)
	}
	h.Del("X-Hub-Signature-256")
	if _, err := trigger.Parse(trigger.GitHub, h, body, secret); !errors.Is(err, fault.Unauthorised) || !strings.Contains(err.Error(), "missing X-Hub-Signature-256") {
		t.Errorf("no signature: %v, want Unauthorised saying it is missing", err)
	}
}

// A branch named in velocity.yml or a schedule is held to git's rules.
func TestCheckBranch(t *testing.T) {
	for _, ok := range []string{"main", "release/1.2", "feature/x-y_z", "v1.0"} {
		if err := trigger.CheckBranch(ok); err != nil {
			t.Errorf("CheckBranch(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a//b", ".hidden", "a/.b", "x.lock", "a..b", "end/", "end.", "a b", "a~1", "a@{1}", "a\x00b", "a\x7fb", "\xff"} {
		if err := trigger.CheckBranch(bad); !errors.Is(err, fault.Invalid) {
			t.Errorf("CheckBranch(%q): %v, want Invalid", bad, err)
		}
	}
}

// A body of exactly MaxBody bytes is taken.
func TestParseTakesABodyOfTheLimit(t *testing.T) {
	body := bytes.Repeat([]byte(" "), trigger.MaxBody)
	h := headers(trigger.GitHub, "ping", "d", body, secret)
	if ev, err := trigger.Parse(trigger.GitHub, h, body, secret); err != nil || ev.Kind != trigger.KindPing {
		t.Errorf("a ping of %d bytes: %+v, %v", len(body), ev, err)
	}
}
