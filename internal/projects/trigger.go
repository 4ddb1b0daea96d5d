package projects

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/trigger"
)

// Trigger queues a run of the project at req.Ref and returns the request,
// recorded durably before Trigger returns.
func (s *Service) Trigger(ctx context.Context, name string, req TriggerRequest) (Request, error) {
	p, err := s.cfg.Store.Project(ctx, name)
	if err != nil {
		return Request{}, err
	}
	ref := req.Ref
	if ref == "" {
		ref = p.Branch
	}
	if strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, " \t\n\x00") {
		return Request{}, fault.Invalidf("ref %q is not a branch, tag or commit", ref)
	}
	branch := ""
	heads, err := s.cfg.Mirrors.Heads(ctx, name)
	if err != nil {
		return Request{}, fmt.Errorf("project %s: %w", name, err)
	}
	if ref == p.Branch || heads["refs/heads/"+ref] != "" {
		branch = ref
	}
	// A branch moves: its newest commit is the repository's, not the
	// mirror's. A commit id or tag the mirror lacks is fetched too.
	commit := ""
	if branch == "" {
		commit, err = s.cfg.Mirrors.Resolve(ctx, name, ref)
	}
	if branch != "" || err != nil {
		if err := s.cfg.Mirrors.Fetch(ctx, name); err != nil {
			return Request{}, fmt.Errorf("project %s: fetch: %w", name, err)
		}
		if commit, err = s.cfg.Mirrors.Resolve(ctx, name, ref); err != nil {
			return Request{}, fmt.Errorf("project %s: %w", name, err)
		}
		if branch == "" {
			if heads, err := s.cfg.Mirrors.Heads(ctx, name); err == nil && heads["refs/heads/"+ref] != "" {
				branch = ref
			}
		}
	}
	by := req.Trigger
	if by == "" {
		by = "manual"
	}
	return s.queue(ctx, store.Request{Project: name, Commit: commit, Branch: branch, Trigger: by})
}

// queue records r as waiting and wakes the project's dispatcher.
func (s *Service) queue(ctx context.Context, r store.Request) (Request, error) {
	r.Received = s.cfg.Now()
	id, err := s.cfg.Store.AddRequest(ctx, r)
	if err != nil {
		return Request{}, err
	}
	r.ID, r.State = id, store.RequestWaiting
	s.queued(r)
	return request(r), nil
}

func (s *Service) queued(r store.Request) {
	s.cfg.Log.Info("run requested", "project", r.Project, "request", r.ID, "commit", r.Commit, "branch", r.Branch, "trigger", r.Trigger)
	s.wakeProject(r.Project)
}

// wakeProject signals the dispatcher of project name; a signal pending
// already is enough.
func (s *Service) wakeProject(name string) {
	select {
	case s.wakeOf(name) <- struct{}{}:
	default:
	}
}

func (s *Service) wakeOf(name string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.wake[name]
	if c == nil {
		c = make(chan struct{}, 1)
		s.wake[name] = c
	}
	return c
}

// Webhook handles one webhook delivery from provider for the project:
// it verifies the signature with the project's secret (a bad or missing
// one is fault.Unauthorised, and nothing is recorded), de-duplicates the
// delivery id, filters by branch and queues a request for a push.
func (s *Service) Webhook(ctx context.Context, provider trigger.Provider, name string, h http.Header, body []byte) (WebhookResult, error) {
	p, err := s.cfg.Store.Project(ctx, name)
	if err != nil {
		return WebhookResult{}, err
	}
	secret, err := s.unseal(p)
	if err != nil {
		return WebhookResult{}, fmt.Errorf("project %s: %w", name, err)
	}
	ev, err := trigger.Parse(provider, h, body, secret)
	if err != nil {
		return WebhookResult{}, err
	}
	switch ev.Kind {
	case trigger.KindPing:
		return WebhookResult{Outcome: Pong, Message: "webhook of project " + name + " is set up"}, nil
	case trigger.KindPush:
	default:
		return WebhookResult{Outcome: Ignored, Message: fmt.Sprintf("event %q starts no run", ev.Name)}, nil
	}
	push := ev.Push
	if why := push.Ignored(); why != "" {
		return WebhookResult{Outcome: Ignored, Message: why}, nil
	}
	if push.Branch != p.Branch {
		return WebhookResult{Outcome: Ignored, Message: fmt.Sprintf("push to branch %s; project %s runs branch %s", push.Branch, name, p.Branch)}, nil
	}
	// A signed body replayed under a new delivery id (forges do not sign
	// the id) names the commit last queued for the branch: no second run.
	commit := push.After
	if commit == p.Head {
		return WebhookResult{Outcome: Duplicate, Message: fmt.Sprintf("commit %.12s is already the last one queued for %s", commit, p.Branch)}, nil
	}
	// The request is recorded before any fetch: the answer must not wait
	// for the repository (a forge gives up after seconds, and GitHub does
	// not deliver again). The body only names the commit; the dispatcher
	// fetches it from the project's repository before the run, so a
	// forged body can run nothing that is not there.
	by := fmt.Sprintf("webhook delivery %s (%s", ev.Delivery, provider)
	if push.Pusher != "" {
		by += ", push by " + push.Pusher
	}
	by += ")"
	now := s.cfg.Now()
	r := store.Request{Project: name, Commit: commit, Branch: push.Branch, Trigger: by, Received: now}
	id, seen, err := s.cfg.Store.AddDeliveredRequest(ctx, store.Delivery{Project: name, ID: ev.Delivery, Received: now}, r)
	if err != nil {
		return WebhookResult{}, err
	}
	if seen {
		return WebhookResult{Outcome: Duplicate, Message: "delivery " + ev.Delivery + " was received before"}, nil
	}
	r.ID, r.State = id, store.RequestWaiting
	s.sawHead(ctx, name, commit)
	s.queued(r)
	q := request(r)
	return WebhookResult{Outcome: Accepted, Message: fmt.Sprintf("queued commit %.12s of %s", commit, push.Branch), Request: &q}, nil
}

// sawHead records head as the last commit of the project's branch, so
// that polling does not queue it a second time.
func (s *Service) sawHead(ctx context.Context, name, head string) {
	if err := s.cfg.Store.SetProjectHead(ctx, name, head); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.cfg.Log.Warn("recording the head of a project", "project", name, "err", err)
	}
	s.changed()
}

// Pushed is told by the built-in git remote which refs a push changed in
// the project's mirror (by names the token that pushed); it queues a
// request for the project's branch when that moved.
func (s *Service) Pushed(ctx context.Context, name, by string, updates []RefUpdate) error {
	p, err := s.cfg.Store.Project(ctx, name)
	if err != nil {
		return err
	}
	for _, u := range updates {
		if u.Ref != "refs/heads/"+p.Branch || strings.Trim(u.After, "0") == "" {
			continue
		}
		who := "push"
		if by != "" {
			who = "push by " + by
		}
		if _, err := s.queue(ctx, store.Request{Project: name, Commit: u.After, Branch: p.Branch, Trigger: who}); err != nil {
			return err
		}
		s.sawHead(ctx, name, u.After)
	}
	return nil
}
