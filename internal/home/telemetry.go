package home

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/alerts"
	"github.com/velocity-ci/velocity/internal/projects"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/secret"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/telemetry"
)

// newAlerts is the notifier of the data directory's projects' alert
// webhooks; it posts from the first alert until Close.
func (h *Home) newAlerts() *alerts.Notifier {
	return &alerts.Notifier{Log: h.cfg.Log, Targets: func(ctx context.Context, name string) (alerts.Target, error) {
		p, err := h.Store.Project(ctx, name)
		if err != nil {
			return alerts.Target{}, err
		}
		// Read at each alert, so that a project removed or changed
		// since the server started counts; alerts are rare enough for
		// the key file to be read each time too.
		sealer, err := secret.Open(h.Dir, h.cfg.Getenv("VELOCITY_SECRET_KEY"))
		if err != nil {
			return alerts.Target{}, err
		}
		url, err := projects.AlertWebhook(sealer, p)
		return alerts.Target{Branch: p.Branch, Webhook: url}, err
	}}
}

// runHooks tells several hooks of the same runs.
type runHooks []runs.Hook

func (hs runHooks) ActionFinished(a runs.ActionEnd) {
	for _, h := range hs {
		h.ActionFinished(a)
	}
}

func (hs runHooks) RunFinished(r store.Run) {
	for _, h := range hs {
		h.RunFinished(r)
	}
}

// meters tells several meters of the same deploys.
type meters []releases.Meter

func (ms meters) DeployFinished(d releases.DeployEnd) {
	for _, m := range ms {
		m.DeployFinished(d)
	}
}

// metricsHandler answers Prometheus's scrapes on the network listener:
// this process's metrics and the proxy's, behind a viewer token (a
// scraper's bearer token) like the rest of the API.
func (h *Home) metricsHandler(guard *server.Guard, host *releases.Host) http.Handler {
	var more []prometheus.Gatherer
	if host != nil {
		more = append(more, host.Metrics())
	}
	// The queue's depth is read from the journal at each scrape; one
	// collector however many listeners.
	h.queueOnce.Do(func() { h.metrics.Registry().MustRegister(telemetry.NewQueue(h.Store, h.Store)) })
	return guard.WrapAPI(h.metrics.Handler(more...), func(*http.Request) (string, access.Role) {
		return "GET /metrics", access.Viewer
	}, nil)
}
