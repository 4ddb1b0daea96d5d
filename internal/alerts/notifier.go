// Package alerts tells a project's team, through the project's alert
// webhook (Slack-compatible JSON), of failed runs of its branch, failed
// deploys and rollbacks. The notifier is a runs.Hook and a
// releases.Meter: it queues what it is told and posts from a goroutine of
// its own, so a slow or dead chat service never holds a run or a deploy.
package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// Defaults of a Notifier's zero fields.
const (
	defaultAttempts = 3
	defaultBackoff  = time.Second
	defaultTimeout  = 10 * time.Second
	// queueLen is how many alerts may wait to be posted; beyond it new
	// ones are dropped (and logged): an outage that fails every run
	// should not pile up memory.
	queueLen = 100
	// maxText bounds an alert's text: a reason may be a long error.
	maxText = 3000
	// maxReply is what is read of a webhook's answer (then discarded),
	// so the connection can be reused.
	maxReply = 4 << 10
)

// Target is where a project's alerts go: its branch (only failed runs
// of it alert) and its webhook URL, "" for none.
type Target struct {
	Branch  string
	Webhook string
}

// Notifier posts alerts. Its zero fields have working defaults; Targets
// is required. Close it to stop posting.
type Notifier struct {
	// Targets looks a project's alert target up, at each alert, so that
	// a project added or removed since the server started counts; an
	// error wrapping store.ErrNotFound means no alerts (a run of a
	// directory that is no project of the server).
	Targets func(ctx context.Context, project string) (Target, error)
	// Client posts; nil is a client of its own.
	Client *http.Client
	// Attempts bounds the posts of one alert (answers 5xx and 429, and
	// network errors, are tried again); Backoff is the wait before the
	// second, doubling; Timeout bounds each post.
	Attempts int
	Backoff  time.Duration
	Timeout  time.Duration
	Log      *slog.Logger

	once   sync.Once
	queue  chan event
	stop   context.CancelFunc
	ctx    context.Context
	done   chan struct{}
	closed sync.Once
}

var (
	_ runs.Hook      = (*Notifier)(nil)
	_ releases.Meter = (*Notifier)(nil)
)

// event is what the notifier was told, decided on in its goroutine
// (looking the project up reads the journal).
type event struct {
	run    *store.Run
	deploy *releases.DeployEnd
}

// RunFinished implements runs.Hook: a failed run alerts when it ran the
// project's branch.
func (n *Notifier) RunFinished(r store.Run) {
	if r.Status != store.Failed {
		return
	}
	n.enqueue(event{run: &r})
}

// ActionFinished implements runs.Hook; actions do not alert by
// themselves, their run does.
func (n *Notifier) ActionFinished(runs.ActionEnd) {}

// DeployFinished implements releases.Meter: a failed deploy and any
// rollback alert.
func (n *Notifier) DeployFinished(d releases.DeployEnd) {
	if d.Err == nil && !d.Rollback {
		return
	}
	n.enqueue(event{deploy: &d})
}

func (n *Notifier) start() {
	n.once.Do(func() {
		n.queue = make(chan event, queueLen)
		n.done = make(chan struct{})
		n.ctx, n.stop = context.WithCancel(context.Background())
		go n.loop()
	})
}

func (n *Notifier) enqueue(e event) {
	n.start()
	if n.ctx == nil || n.ctx.Err() != nil {
		return // closed
	}
	select {
	case n.queue <- e:
	default:
		n.log().Warn("alert dropped: too many alerts waiting to be posted")
	}
}

// Close stops posting: an alert being posted is given up after its
// current attempt, those waiting are dropped.
func (n *Notifier) Close() {
	// A notifier never told anything has no goroutine to stop, and
	// starts none after Close: most commands never alert.
	n.once.Do(func() {})
	n.closed.Do(func() {
		if n.stop != nil {
			n.stop()
			<-n.done
		}
	})
}

func (n *Notifier) loop() {
	defer close(n.done)
	for {
		select {
		case <-n.ctx.Done():
			return
		case e := <-n.queue:
			n.handle(n.ctx, e)
		}
	}
}

func (n *Notifier) log() *slog.Logger {
	if n.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return n.Log
}

// handle posts the alert of e, if its project wants one.
func (n *Notifier) handle(ctx context.Context, e event) {
	project := ""
	if e.run != nil {
		project = e.run.Project
	} else {
		project = e.deploy.Project
	}
	if project == "" {
		return
	}
	t, err := n.Targets(ctx, project)
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err != nil {
		n.log().Warn("alert not sent: project's alert webhook unreadable", "project", project, "err", err)
		return
	}
	if t.Webhook == "" {
		return
	}
	var text string
	if e.run != nil {
		if e.run.Branch != t.Branch {
			return
		}
		text = runText(*e.run)
	} else {
		text = deployText(*e.deploy)
	}
	n.post(ctx, project, t.Webhook, text)
}

func runText(r store.Run) string {
	s := fmt.Sprintf("velocity: run %d of %s failed on %s", r.ID, r.Project, r.Branch)
	if r.Commit != "" {
		s += fmt.Sprintf(" (commit %.12s)", r.Commit)
	}
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

func deployText(d releases.DeployEnd) string {
	what := "deploy of " + d.Service + " release " + d.Release + " to " + d.Environment
	if d.Rollback {
		what = "rollback of " + d.Service + " in " + d.Environment + " to release " + d.Release
	}
	if d.Err == nil {
		return fmt.Sprintf("velocity: %s/%s rolled back to release %s (project %s)", d.Environment, d.Service, d.Release, d.Project)
	}
	reason, _, _ := strings.Cut(d.Err.Error(), "\n")
	return fmt.Sprintf("velocity: %s failed (project %s): %s", what, d.Project, reason)
}

// post sends text to webhook, trying again with backoff on answers
// worth retrying. Only the webhook's host is ever logged: the path of a
// chat webhook is its credential.
func (n *Notifier) post(ctx context.Context, project, webhook, text string) {
	host := "?"
	if u, err := url.Parse(webhook); err == nil {
		host = u.Host
	}
	if len(text) > maxText {
		text = text[:maxText] + "…"
	}
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return
	}
	attempts := n.Attempts
	if attempts <= 0 {
		attempts = defaultAttempts
	}
	backoff := n.Backoff
	if backoff <= 0 {
		backoff = defaultBackoff
	}
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		retry, err := n.send(ctx, webhook, body)
		if err == nil {
			n.log().Debug("alert posted", "project", project, "host", host)
			return
		}
		last = err
		if !retry {
			break
		}
	}
	n.log().Warn("alert not posted", "project", project, "host", host, "err", last)
}

// send posts once; retry says whether another attempt may succeed.
func (n *Notifier) send(ctx context.Context, webhook string, body []byte) (retry bool, err error) {
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("invalid webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	client := n.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error repeats the whole URL: keep its cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReply))
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("answered %s", resp.Status)
	default:
		return false, fmt.Errorf("answered %s", resp.Status)
	}
}
