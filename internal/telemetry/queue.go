package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/velocity-ci/velocity/internal/store"
)

// queueTimeout bounds the journal reads of one scrape.
const queueTimeout = 5 * time.Second

// Queue is the number of requests waiting in each project's queue, read
// from the journal at each scrape (so it is right whichever process
// queued them). Register it with Metrics.Registry.
type Queue struct {
	Projects store.Projects
	Requests store.Requests
	desc     *prometheus.Desc
}

var _ prometheus.Collector = (*Queue)(nil)

// NewQueue is the queue depth collector of a journal.
func NewQueue(projects store.Projects, requests store.Requests) *Queue {
	return &Queue{Projects: projects, Requests: requests, desc: prometheus.NewDesc(
		"velocity_queue_depth", "Requests (commits to run) waiting in a project's queue.",
		[]string{"project"}, nil)}
}

// Describe implements prometheus.Collector.
func (q *Queue) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

// Collect implements prometheus.Collector: every project, 0 when none
// waits, so that a dashboard shows the project rather than no data.
func (q *Queue) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
	defer cancel()
	projects, err := q.Projects.Projects(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(q.desc, err)
		return
	}
	waiting, err := q.Requests.Requests(ctx, store.RequestFilter{State: store.RequestWaiting})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(q.desc, err)
		return
	}
	depth := make(map[string]int, len(projects))
	for _, p := range projects {
		depth[p.Name] = 0
	}
	for _, r := range waiting {
		depth[r.Project]++
	}
	for name, n := range depth {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), name)
	}
}
