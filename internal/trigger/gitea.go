package trigger

import (
	"net/http"

	"github.com/velocity-ci/velocity/internal/fault"
)

// Gitea's webhook headers (docs.gitea.com, "Webhooks"). Forgejo sends the
// same under X-Forgejo-*, and Gitea's too; either set is read.
var (
	giteaSignature = [2]string{"X-Gitea-Signature", "X-Forgejo-Signature"}
	giteaEvent     = [2]string{"X-Gitea-Event", "X-Forgejo-Event"}
	giteaDelivery  = [2]string{"X-Gitea-Delivery", "X-Forgejo-Delivery"}
)

// giteaPush is the part of Gitea's push payload a run needs.
type giteaPush struct {
	Ref    string `json:"ref"`
	Before string `json:"before"`
	After  string `json:"after"`
	Pusher struct {
		Login string `json:"login"`
	} `json:"pusher"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

// either returns the first of the headers that is set, and its name.
func either(h http.Header, names [2]string) (string, string) {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v, n
		}
	}
	return "", names[0]
}

// parseGitea: X-Gitea-Signature is the hex HMAC-SHA256 of the raw body
// keyed with the secret, without a prefix.
func parseGitea(h http.Header, body, secret []byte) (Event, error) {
	sig, header := either(h, giteaSignature)
	if err := checkHMAC(header, sig, body, secret); err != nil {
		return Event{}, err
	}
	id, header := either(h, giteaDelivery)
	if err := checkDelivery(header, id); err != nil {
		return Event{}, err
	}
	name, header := either(h, giteaEvent)
	ev := Event{Provider: Gitea, Delivery: id, Name: name}
	switch name {
	case "push":
	case "":
		return Event{}, fault.Invalidf("missing %s header", header)
	default:
		ev.Kind, ev.Name = KindOther, visible(name)
		return ev, nil
	}
	doc, err := payload(h, body)
	if err != nil {
		return Event{}, err
	}
	var p giteaPush
	if err := decode(doc, &p); err != nil {
		return Event{}, err
	}
	push, err := newPush(p.Ref, p.Before, p.After, p.Pusher.Login, p.Repository.FullName)
	if err != nil {
		return Event{}, err
	}
	ev.Kind, ev.Push = KindPush, push
	return ev, nil
}
