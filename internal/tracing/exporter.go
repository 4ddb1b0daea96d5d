// Package tracing exports runs as OpenTelemetry traces: one trace per
// run, a span for the run, one for each stage and one for each action,
// sent over OTLP/HTTP to the collector the standard OTEL_EXPORTER_OTLP_*
// variables name. The spans are built after the run has ended, from what
// the journal recorded, with the journal's times: nothing is added to the
// path of a running action, and a collector that is down costs a run
// nothing but its trace.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// FlushTimeout bounds how long Close waits for the last spans to reach
// the collector: what the end of a velocity run may be delayed by when the
// collector is slow or unreachable.
const FlushTimeout = time.Second

// The standard variables read here; the exporter reads the others
// (headers, timeout, compression, certificates) itself.
const (
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envServiceName    = "OTEL_SERVICE_NAME"
	envDisabled       = "OTEL_SDK_DISABLED"
)

// Config is what an Exporter is built from.
type Config struct {
	// Getenv reads the OTEL_* variables.
	Getenv func(string) string
	// Version is the service.version of the traces' resource.
	Version string
	// Retry keeps trying an export the collector refused, for up to half
	// a minute: a server that runs for days wants its traces to survive a
	// collector's restart; a command that is about to end does not want
	// to wait for it.
	Retry bool
	// Log receives export failures: the first as a warning, the others at
	// debug level, so that a collector that is down is said once.
	Log *slog.Logger
}

// Enabled reports whether getenv names a collector to send traces to.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv(envDisabled)), "true") {
		return false
	}
	return endpoint(getenv) != ""
}

// endpoint is the URL traces are posted to: the traces endpoint as it
// is, or the general endpoint with the signal's path, as the
// specification says.
func endpoint(getenv func(string) string) string {
	if u := strings.TrimSpace(getenv(envTracesEndpoint)); u != "" {
		return u
	}
	if u := strings.TrimSpace(getenv(envEndpoint)); u != "" {
		return strings.TrimSuffix(u, "/") + "/v1/traces"
	}
	return ""
}

// Exporter records runs as traces and sends them in the background. It
// is safe for concurrent use; Close it to send what is left.
type Exporter struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	log      *slog.Logger
}

// New builds an Exporter for the collector cfg.Getenv names. No
// connection is made until the first batch of spans is sent.
func New(ctx context.Context, cfg Config) (*Exporter, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	url := endpoint(cfg.Getenv)
	if url == "" {
		return nil, fmt.Errorf("traces: neither %s nor %s is set", envEndpoint, envTracesEndpoint)
	}
	retry := otlptracehttp.RetryConfig{Enabled: false}
	if cfg.Retry {
		retry = otlptracehttp.RetryConfig{Enabled: true, InitialInterval: time.Second, MaxInterval: 5 * time.Second, MaxElapsedTime: 30 * time.Second}
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(url), otlptracehttp.WithRetry(retry))
	if err != nil {
		return nil, fmt.Errorf("traces to %s: %w", url, err)
	}
	// Later detectors win: OTEL_RESOURCE_ATTRIBUTES over velocity's
	// own, OTEL_SERVICE_NAME over both.
	detectors := []resource.Option{resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", "velocity"), attribute.String("service.version", cfg.Version)),
		resource.WithFromEnv()}
	if name := strings.TrimSpace(cfg.Getenv(envServiceName)); name != "" {
		detectors = append(detectors, resource.WithAttributes(attribute.String("service.name", name)))
	}
	res, err := resource.New(ctx, detectors...)
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES leaves the rest usable.
		cfg.Log.Warn("traces: resource attributes", "err", err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		// The queue is bounded and drops spans when the collector cannot
		// keep up, rather than holding a run's end or growing without end.
		sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(&reported{SpanExporter: exp, url: url, log: cfg.Log},
			sdktrace.WithMaxQueueSize(8192), sdktrace.WithBatchTimeout(2*time.Second), sdktrace.WithExportTimeout(time.Minute))),
	)
	return &Exporter{provider: provider, tracer: provider.Tracer("github.com/velocity-ci/velocity/internal/tracing"), log: cfg.Log}, nil
}

// Close sends the spans not sent yet, waiting for at most FlushTimeout
// (or ctx), and stops the exporter.
func (e *Exporter) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, FlushTimeout)
	defer cancel()
	if err := e.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("traces: %w", err)
	}
	return nil
}

// reported is the OTLP exporter whose failures go to the log rather
// than to OpenTelemetry's global error handler, which prints on stderr
// and would need global state to quieten.
type reported struct {
	sdktrace.SpanExporter
	url  string
	log  *slog.Logger
	once sync.Once
}

// ExportSpans implements sdktrace.SpanExporter.
func (r *reported) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := r.SpanExporter.ExportSpans(ctx, spans); err != nil {
		r.failed(err, len(spans))
	}
	return nil
}

// Shutdown implements sdktrace.SpanExporter.
func (r *reported) Shutdown(ctx context.Context) error {
	if err := r.SpanExporter.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		r.failed(err, 0)
	}
	return nil
}

func (r *reported) failed(err error, spans int) {
	warned := false
	r.once.Do(func() {
		warned = true
		r.log.Warn("traces not exported", "collector", r.url, "spans", spans, "err", err)
	})
	if !warned {
		r.log.Debug("traces not exported", "collector", r.url, "spans", spans, "err", err)
	}
}
