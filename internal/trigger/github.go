package trigger

import (
	"net/http"
	"strings"

	"github.com/velocity-ci/velocity/internal/fault"
)

// GitHub's webhook headers (docs.github.com, "Webhook events and
// payloads", delivery headers).
const (
	githubSignature = "X-Hub-Signature-256"
	githubEvent     = "X-GitHub-Event"
	githubDelivery  = "X-GitHub-Delivery"
)

// githubPush is the part of GitHub's push payload a run needs.
type githubPush struct {
	Ref     string `json:"ref"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`
	Pusher  struct {
		Name string `json:"name"`
	} `json:"pusher"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

// parseGitHub: X-Hub-Signature-256 is "sha256=" and the hex HMAC-SHA256
// of the raw body keyed with the secret.
func parseGitHub(h http.Header, body, secret []byte) (Event, error) {
	sig, ok := strings.CutPrefix(h.Get(githubSignature), "sha256=")
	if !ok && h.Get(githubSignature) != "" {
		return Event{}, fault.Unauthorisedf(`%s does not start with "sha256="`, githubSignature)
	}
	if err := checkHMAC(githubSignature, sig, body, secret); err != nil {
		return Event{}, err
	}
	ev := Event{Provider: GitHub, Delivery: h.Get(githubDelivery), Name: h.Get(githubEvent)}
	if err := checkDelivery(githubDelivery, ev.Delivery); err != nil {
		return Event{}, err
	}
	switch ev.Name {
	case "ping":
		ev.Kind = KindPing
		return ev, nil
	case "push":
	case "":
		return Event{}, fault.Invalidf("missing %s header", githubEvent)
	default:
		ev.Kind, ev.Name = KindOther, visible(ev.Name)
		return ev, nil
	}
	doc, err := payload(h, body)
	if err != nil {
		return Event{}, err
	}
	var p githubPush
	if err := decode(doc, &p); err != nil {
		return Event{}, err
	}
	push, err := newPush(p.Ref, p.Before, p.After, p.Pusher.Name, p.Repository.FullName)
	if err != nil {
		return Event{}, err
	}
	push.Deleted = push.Deleted || p.Deleted
	ev.Kind, ev.Push = KindPush, push
	return ev, nil
}
