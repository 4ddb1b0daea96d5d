package home

import (
	"context"
	"time"

	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/tracing"
)

// traces is the exporter of the data directory's runs as traces, built
// the first time runs are executed when the environment names an OTLP
// collector; nil when it names none (or the exporter cannot be built,
// which costs the runs their traces and nothing else). serving says the
// exporter lives as long as a server: it retries a collector that is
// briefly away, which a command about to end cannot wait for.
func (h *Home) traces(ctx context.Context, serving bool) *tracing.Exporter {
	h.tracesMu.Lock()
	defer h.tracesMu.Unlock()
	if h.tracesBuilt || !tracing.Enabled(h.cfg.Getenv) {
		return h.tracer
	}
	h.tracesBuilt = true
	t, err := tracing.New(ctx, tracing.Config{Getenv: h.cfg.Getenv, Version: h.cfg.Version, Retry: serving, Log: h.cfg.Log})
	if err != nil {
		h.cfg.Log.Warn("runs will not be traced", "err", err)
		return nil
	}
	h.tracer = t
	return t
}

// onFinished is what the runs service calls when a run ends: nil when
// runs are not traced, so that nothing at all is done for them.
func (h *Home) onFinished(ctx context.Context, serving bool) func(context.Context, runs.Result) {
	t := h.traces(ctx, serving)
	if t == nil {
		return nil
	}
	return func(ctx context.Context, r runs.Result) { t.Finished(ctx, h.Store, r.Run, r.Err) }
}

// closeTraces sends the spans not sent yet, waiting at most
// tracing.FlushTimeout.
func (h *Home) closeTraces() {
	h.tracesMu.Lock()
	t := h.tracer
	h.tracer = nil
	h.tracesMu.Unlock()
	if t == nil {
		return
	}
	began := time.Now()
	if err := t.Close(context.Background()); err != nil {
		h.cfg.Log.Warn("traces of runs not all sent: the collector did not answer in time", "within", tracing.FlushTimeout, "err", err)
	}
	h.cfg.Log.Debug("traces flushed", "took", time.Since(began))
}
