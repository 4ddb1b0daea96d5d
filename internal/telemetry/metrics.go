package telemetry

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// durationBuckets suit runs, actions and deploys: from a cached action
// (milliseconds) to a long build (an hour).
func durationBuckets() []float64 { return []float64{0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600} }

// writeBuckets suit a journal write: an fsync'd SQLite transaction.
func writeBuckets() []float64 {
	return []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}
}

// Metrics are one server's collectors and the registry that holds them.
// Its methods are safe for concurrent use and never block on I/O.
type Metrics struct {
	reg *prometheus.Registry
	// runtimeOnce registers the Go runtime's and the process's
	// collectors when the registry is first used to serve metrics:
	// describing them costs ~0.15 ms, which every command opening the
	// data directory paid and only a scrape needs.
	runtimeOnce sync.Once

	runs        *prometheus.CounterVec
	runTime     *prometheus.HistogramVec
	actions     *prometheus.CounterVec
	actionTime  *prometheus.HistogramVec
	cacheHits   *prometheus.CounterVec
	cacheMisses *prometheus.CounterVec
	deploys     *prometheus.CounterVec
	rollbacks   *prometheus.CounterVec
	deployTime  *prometheus.HistogramVec
	transitions *prometheus.CounterVec
	writes      *prometheus.HistogramVec
}

var (
	_ runs.Hook      = (*Metrics)(nil)
	_ releases.Meter = (*Metrics)(nil)
)

// New makes the collectors in a registry of their own, with the Go
// runtime's and the process's.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "velocity_runs_total",
			Help: "Runs finished, by project and result (succeeded, failed, cancelled, interrupted).",
		}, []string{"project", "result"}),
		runTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "velocity_run_duration_seconds",
			Help:    "Time from a run's creation to its end, by project and result.",
			Buckets: durationBuckets(),
		}, []string{"project", "result"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "velocity_actions_total",
			Help: "Actions that took their final attempt, by project, action (stage/name) and result.",
		}, []string{"project", "action", "result"}),
		actionTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "velocity_action_duration_seconds",
			Help:    "Duration of an action's final attempt, by project, action and result.",
			Buckets: durationBuckets(),
		}, []string{"project", "action", "result"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "velocity_cache_hits_total",
			Help: "Actions with a result-cache key whose result came from the cache, by project.",
		}, []string{"project"}),
		cacheMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "velocity_cache_misses_total",
			Help: "Actions with a result-cache key that executed, by project.",
		}, []string{"project"}),
		deploys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "velocity_deploys_total",
			Help: "Deploys of a new release carried out, by environment, service and result (live, failed).",
		}, []string{"environment", "service", "result"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "velocity_rollbacks_total",
			Help: "Rollbacks carried out, by environment, service and result (live, failed).",
		}, []string{"environment", "service", "result"}),
		deployTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "velocity_deploy_duration_seconds",
			Help:    "Time a deploy or rollback took until live or failed, by environment and service.",
			Buckets: durationBuckets(),
		}, []string{"environment", "service"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "velocity_workflow_transitions_total",
			Help: "States entered by workflow executions, by state type (Task, Map, Choice, ...).",
		}, []string{"state_type"}),
		writes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "velocity_journal_write_duration_seconds",
			Help:    "Time a durable journal write took, by operation.",
			Buckets: writeBuckets(),
		}, []string{"op"}),
	}
	m.reg.MustRegister(m.runs, m.runTime, m.actions, m.actionTime, m.cacheHits, m.cacheMisses,
		m.deploys, m.rollbacks, m.deployTime, m.transitions, m.writes)
	return m
}

// Registry is where further collectors of the server go (the queue's).
// It holds the Go runtime's and the process's collectors too.
func (m *Metrics) Registry() *prometheus.Registry {
	m.runtimeOnce.Do(func() {
		m.reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	})
	return m.reg
}

// Handler answers a scrape with these metrics and those of more (the
// proxy's, which live in the host's registry), in the text format.
func (m *Metrics) Handler(more ...prometheus.Gatherer) http.Handler {
	g := append(prometheus.Gatherers{m.Registry()}, more...)
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ActionFinished implements runs.Hook.
func (m *Metrics) ActionFinished(a runs.ActionEnd) {
	result := string(a.Status)
	m.actions.WithLabelValues(a.Project, a.Action, result).Inc()
	m.actionTime.WithLabelValues(a.Project, a.Action, result).Observe(a.Duration.Seconds())
	if !a.Keyed {
		return
	}
	if a.Status == store.Cached {
		m.cacheHits.WithLabelValues(a.Project).Inc()
	} else {
		m.cacheMisses.WithLabelValues(a.Project).Inc()
	}
}

// RunFinished implements runs.Hook.
func (m *Metrics) RunFinished(r store.Run) {
	result := string(r.Status)
	m.runs.WithLabelValues(r.Project, result).Inc()
	if !r.Finished.IsZero() && !r.Created.IsZero() {
		m.runTime.WithLabelValues(r.Project, result).Observe(r.Finished.Sub(r.Created).Seconds())
	}
}

// DeployFinished implements releases.Meter.
func (m *Metrics) DeployFinished(d releases.DeployEnd) {
	result := "live"
	if d.Err != nil {
		result = "failed"
	}
	c := m.deploys
	if d.Rollback {
		c = m.rollbacks
	}
	c.WithLabelValues(d.Environment, d.Service, result).Inc()
	m.deployTime.WithLabelValues(d.Environment, d.Service).Observe(d.Duration.Seconds())
}

// wrote observes one journal write of op that began at began.
func (m *Metrics) wrote(op string, began time.Time) {
	m.writes.WithLabelValues(op).Observe(time.Since(began).Seconds())
}
