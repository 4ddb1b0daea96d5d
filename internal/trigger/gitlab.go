package trigger

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/velocity-ci/velocity/internal/fault"
)

// GitLab's webhook headers (docs.gitlab.com, "Webhooks": secret token and
// delivery headers). Idempotency-Key (GitLab 17.4 and later) stays the
// same when GitLab retries a delivery; X-Gitlab-Event-UUID, sent by
// earlier versions too, names the event that fired the hook.
const (
	gitlabToken       = "X-Gitlab-Token"
	gitlabEvent       = "X-Gitlab-Event"
	gitlabIdempotency = "Idempotency-Key"
	gitlabEventUUID   = "X-Gitlab-Event-UUID"
)

// gitlabPush is the part of GitLab's push and tag push payloads a run
// needs.
type gitlabPush struct {
	Ref          string `json:"ref"`
	Before       string `json:"before"`
	After        string `json:"after"`
	UserUsername string `json:"user_username"`
	Project      struct {
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
}

// parseGitLab: GitLab signs nothing; it sends the secret token itself in
// X-Gitlab-Token. Both sides are hashed before the constant-time compare
// so that not even the secret's length leaks through timing.
func parseGitLab(h http.Header, body, secret []byte) (Event, error) {
	token := h.Get(gitlabToken)
	if token == "" {
		return Event{}, fault.Unauthorisedf("missing %s header", gitlabToken)
	}
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return Event{}, fault.Unauthorisedf("%s is not the project's webhook secret", gitlabToken)
	}
	header := gitlabIdempotency
	id := h.Get(header)
	if id == "" {
		header = gitlabEventUUID
		id = h.Get(header)
	}
	if err := checkDelivery(gitlabIdempotency+" or "+gitlabEventUUID, id); err != nil {
		return Event{}, err
	}
	ev := Event{Provider: GitLab, Delivery: id, Name: h.Get(gitlabEvent)}
	switch ev.Name {
	case "Push Hook", "Tag Push Hook":
	case "":
		return Event{}, fault.Invalidf("missing %s header", gitlabEvent)
	default:
		ev.Kind, ev.Name = KindOther, visible(ev.Name)
		return ev, nil
	}
	var p gitlabPush
	if err := decode(body, &p); err != nil {
		return Event{}, err
	}
	push, err := newPush(p.Ref, p.Before, p.After, p.UserUsername, p.Project.PathWithNamespace)
	if err != nil {
		return Event{}, err
	}
	ev.Kind, ev.Push = KindPush, push
	return ev, nil
}
