package home

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/velocity-ci/velocity/internal/runs"
)

// Without an OTLP endpoint in the environment no exporter is built and
// runs have no hook at all.
func TestRunsAreNotTracedWithoutACollector(t *testing.T) {
	h := openHome(t, func(string) string { return "" })
	if _, err := h.Runs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.tracer != nil || h.onFinished(context.Background(), false) != nil {
		t.Error("an exporter was built though no collector is named")
	}
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, a run executed through the data
// directory reaches the collector by the time the directory is closed,
// as at the end of velocity run: Close sends what the batch still holds.
func TestRunIsTracedAndSentWhenTheHomeCloses(t *testing.T) {
	var mu sync.Mutex
	var names []string
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("collector: %v", err)
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
		mu.Unlock()
	}))
	defer col.Close()
	h := openHome(t, func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return col.URL
		}
		return ""
	})
	svc, err := h.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	yml := "name: closing\nstages:\n  - name: s\n    actions:\n      - { name: a, run: echo hi }\n"
	if err := os.WriteFile(filepath.Join(dir, "velocity.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := svc.Start(ctx, runs.StartRequest{Dir: dir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := svc.Wait(wctx, id); err != nil {
		t.Fatal(err)
	}
	h.Close()
	mu.Lock()
	defer mu.Unlock()
	want := map[string]bool{"run closing": true, "stage s": true, "action s/a": true}
	if len(names) != len(want) {
		t.Fatalf("collector got %v, want %v", names, want)
	}
	for _, n := range names {
		if !want[n] {
			t.Errorf("unexpected span %q", n)
		}
	}
}

func openHome(t *testing.T, getenv func(string) string) *Home {
	t.Helper()
	h, err := Open(context.Background(), Config{Dir: t.TempDir(), Getenv: getenv, Version: "test",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// Close twice is harmless: the second finds no exporter left.
	t.Cleanup(func() { h.Close() })
	return h
}
