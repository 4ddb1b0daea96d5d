package trigger

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/velocity-ci/velocity/internal/fault"
)

// Provider names the forge that sent a webhook.
type Provider string

// Providers with a parser here.
const (
	GitHub Provider = "github"
	GitLab Provider = "gitlab"
	// Gitea covers Forgejo too: it sends Gitea's headers and payload.
	Gitea Provider = "gitea"
)

// Kind is what a verified webhook reports.
type Kind string

// Kinds of event. Only Push can start a run; the server answers Ping and
// Other without one.
const (
	KindPush Kind = "push"
	// KindPing is GitHub's check that a new hook reaches its receiver.
	KindPing Kind = "ping"
	// KindOther is any other event the hook was set up to send.
	KindOther Kind = "other"
)

// Event is a webhook whose signature was checked.
type Event struct {
	Provider Provider `json:"provider"`
	// Delivery is the provider's id of this delivery, the same on a
	// redelivery: the key for de-duplication.
	Delivery string `json:"delivery"`
	Kind     Kind   `json:"kind"`
	// Name is the provider's own event name (X-GitHub-Event, …).
	Name string `json:"name"`
	// Push is set when Kind is KindPush.
	Push *Push `json:"push,omitempty"`
}

// Push is one push to a repository, whatever forge reported it.
type Push struct {
	// Ref is the full ref pushed: refs/heads/main, refs/tags/v1.
	Ref string `json:"ref"`
	// Branch is set for a ref under refs/heads/, Tag for one under
	// refs/tags/; both are empty for any other ref.
	Branch string `json:"branch,omitempty"`
	Tag    string `json:"tag,omitempty"`
	// Before and After are the commits the ref pointed at; Before is all
	// zeros when the ref was created, After when it was deleted.
	Before string `json:"before"`
	After  string `json:"after"`
	// Deleted reports a ref deletion: there is no commit to run.
	Deleted bool `json:"deleted"`
	// Pusher is the forge user who pushed; Repository the repository's
	// full name (owner/name) on the forge. Both are for the run's record,
	// never for deciding anything.
	Pusher     string `json:"pusher"`
	Repository string `json:"repository"`
}

// Ignored says why a push starts no run ("" when it may start one): a
// deletion, a tag, or a ref outside branches and tags.
func (p Push) Ignored() string {
	switch {
	case p.Deleted:
		return "ref " + p.Ref + " was deleted"
	case p.Tag != "":
		return "tag push " + p.Tag
	case p.Branch == "":
		return "ref " + p.Ref + " is not a branch"
	}
	return ""
}

// Limits on what a payload may carry.
const (
	// MaxBody is the largest webhook body accepted (GitHub caps its
	// payloads at 25 MB too).
	MaxBody = 25 << 20
	// maxRef bounds a ref name; git has no limit, but no real ref needs more.
	maxRef = 1024
	// maxName bounds a pusher or repository name and a delivery id.
	maxName = 256
)

// newPush checks what a provider's payload said and builds the Push.
func newPush(ref, before, after, pusher, repo string) (*Push, error) {
	if err := checkRef(ref); err != nil {
		return nil, err
	}
	if !isCommit(before) {
		return nil, fault.Invalidf("before %q is not a commit id (40 or 64 hex digits)", clip(before))
	}
	if !isCommit(after) {
		return nil, fault.Invalidf("after %q is not a commit id (40 or 64 hex digits)", clip(after))
	}
	if len(before) != len(after) {
		return nil, fault.Invalidf("before and after are commit ids of different lengths (%d, %d)", len(before), len(after))
	}
	if err := checkName("pusher", pusher); err != nil {
		return nil, err
	}
	if err := checkName("repository", repo); err != nil {
		return nil, err
	}
	p := &Push{Ref: ref, Before: before, After: after, Pusher: pusher, Repository: repo, Deleted: zeros(after)}
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		p.Branch = b
	} else if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		p.Tag = t
	}
	return p, nil
}

// isCommit reports whether s is a SHA-1 or SHA-256 object id in
// lowercase hex, as forges write them.
func isCommit(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func zeros(s string) bool { return strings.Trim(s, "0") == "" }

// checkName accepts what a forge calls a user or a repository: printable
// text without control characters, not too long. Empty is allowed: not
// every forge fills every field.
func checkName(what, s string) error {
	if len(s) > maxName {
		return fault.Invalidf("%s is longer than %d bytes", what, maxName)
	}
	if !printable(s) {
		return fault.Invalidf("%s %q has control characters or is not UTF-8", what, clip(s))
	}
	return nil
}

// checkDelivery accepts a delivery id: visible ASCII, as the providers'
// UUIDs and hex ids are; it lands in logs and the store.
func checkDelivery(header, id string) error {
	if id == "" {
		return fault.Invalidf("missing %s header: the delivery id is needed to recognise a redelivery", header)
	}
	if len(id) > maxName {
		return fault.Invalidf("%s is longer than %d bytes", header, maxName)
	}
	for i := range len(id) {
		if id[i] <= ' ' || id[i] > '~' {
			return fault.Invalidf("%s %q has characters other than visible ASCII", header, clip(id))
		}
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// clip shortens untrusted text quoted in an error message.
func clip(s string) string {
	const n = 80
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// visible keeps an event name the server only logs and echoes: visible
// ASCII and spaces, clipped; anything else becomes "?".
func visible(s string) string {
	// Replaced before clipping, so the ellipsis clip adds survives.
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '?'
		}
	}
	return clip(string(b))
}
