package telemetry_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/telemetry"
)

// scrape GETs url and parses the answer with Prometheus's text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	return mfs
}

// value is the counter, gauge or histogram count of family name with
// exactly the labels given; -1 when there is no such series.
func value(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
	for _, m := range mf.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func matches(m *dto.Metric, labels map[string]string) bool {
	if len(m.GetLabel()) != len(labels) {
		return false
	}
	for _, l := range m.GetLabel() {
		if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// Every family a server exposes, fed by the hooks and journal wrappers
// the way the runs, releases and executions services feed them, read
// back through a real scrape of a real journal.
func TestScrapeShowsWhatHappened(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := telemetry.New()
	m.Registry().MustRegister(telemetry.NewQueue(st, st))
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	now := time.Now()
	for _, p := range []string{"app", "quiet"} {
		if err := st.CreateProject(ctx, store.Project{Name: p, Branch: "main", Mode: "queued", Created: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"c1", "c2"} {
		if _, err := st.AddRequest(ctx, store.Request{Project: "app", Commit: c, Branch: "main", Trigger: "poll", Received: now}); err != nil {
			t.Fatal(err)
		}
	}

	// A run as the runs service journals and reports it.
	j := m.RunsJournal(st)
	id, err := j.CreateRun(ctx, store.Run{Project: "app", Branch: "main", Status: store.Running, Created: now},
		[]store.Action{{Stage: "build", Name: "test"}, {Stage: "build", Name: "lint"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.FinishRun(ctx, id, store.Failed, "build/test failed", now.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	m.ActionFinished(runs.ActionEnd{Project: "app", Action: "build/lint", Status: store.Cached, Duration: time.Millisecond, Keyed: true})
	m.ActionFinished(runs.ActionEnd{Project: "app", Action: "build/test", Status: store.Failed, Duration: 2 * time.Second, Keyed: true})
	m.ActionFinished(runs.ActionEnd{Project: "app", Action: "build/notes", Status: store.Succeeded, Duration: time.Second})
	m.RunFinished(store.Run{ID: id, Project: "app", Branch: "main", Status: store.Failed, Created: now, Finished: now.Add(3 * time.Second)})

	// Deploys as the releases service reports them.
	m.DeployFinished(releases.DeployEnd{Environment: "prod", Service: "web", Release: "r1", Duration: time.Second})
	m.DeployFinished(releases.DeployEnd{Environment: "prod", Service: "web", Release: "r2", Err: errors.New("unhealthy"), Duration: time.Second})
	m.DeployFinished(releases.DeployEnd{Environment: "prod", Service: "web", Release: "r1", Rollback: true, Duration: time.Second})

	// A workflow execution's events as the executions service appends them.
	w := m.WorkflowsJournal(st)
	ex, err := w.CreateExecution(ctx, store.Execution{ARN: "arn:aws:states:us-east-1:123456789012:execution:sm:one",
		Name: "one", StateMachine: "sm", Created: now})
	if err != nil {
		t.Fatal(err)
	}
	events := []store.Event{
		{ID: 1, Type: "ExecutionStarted", At: now}, {ID: 2, Type: "TaskStateEntered", At: now},
		{ID: 3, Type: "TaskStateExited", At: now}, {ID: 4, Type: "MapStateEntered", At: now},
		{ID: 5, Type: "TaskStateEntered", At: now},
	}
	if err := w.AppendEvents(ctx, ex, events); err != nil {
		t.Fatal(err)
	}

	mfs := scrape(t, srv.URL)
	type L = map[string]string
	for _, c := range []struct {
		name   string
		labels L
		want   float64
	}{
		{"velocity_runs_total", L{"project": "app", "result": "failed"}, 1},
		{"velocity_run_duration_seconds", L{"project": "app", "result": "failed"}, 1},
		{"velocity_actions_total", L{"project": "app", "action": "build/test", "result": "failed"}, 1},
		{"velocity_actions_total", L{"project": "app", "action": "build/lint", "result": "cached"}, 1},
		{"velocity_action_duration_seconds", L{"project": "app", "action": "build/notes", "result": "succeeded"}, 1},
		{"velocity_cache_hits_total", L{"project": "app"}, 1},
		// build/notes has no cache key: neither a hit nor a miss.
		{"velocity_cache_misses_total", L{"project": "app"}, 1},
		{"velocity_deploys_total", L{"environment": "prod", "service": "web", "result": "live"}, 1},
		{"velocity_deploys_total", L{"environment": "prod", "service": "web", "result": "failed"}, 1},
		{"velocity_rollbacks_total", L{"environment": "prod", "service": "web", "result": "live"}, 1},
		{"velocity_deploy_duration_seconds", L{"environment": "prod", "service": "web"}, 3},
		{"velocity_queue_depth", L{"project": "app"}, 2},
		{"velocity_queue_depth", L{"project": "quiet"}, 0},
		{"velocity_workflow_transitions_total", L{"state_type": "Task"}, 2},
		{"velocity_workflow_transitions_total", L{"state_type": "Map"}, 1},
		{"velocity_journal_write_duration_seconds", L{"op": "create_run"}, 1},
		{"velocity_journal_write_duration_seconds", L{"op": "finish_run"}, 1},
		{"velocity_journal_write_duration_seconds", L{"op": "append_events"}, 1},
	} {
		if got := value(mfs, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if mfs["velocity_run_duration_seconds"].GetType() != dto.MetricType_HISTOGRAM {
		t.Errorf("run durations are a %v, want a histogram", mfs["velocity_run_duration_seconds"].GetType())
	}
	if mfs["go_goroutines"] == nil || mfs["process_start_time_seconds"] == nil {
		t.Errorf("the Go runtime's and the process's metrics are missing")
	}

	// The queue is read at each scrape: a request taken leaves it.
	waiting, _ := st.Requests(ctx, store.RequestFilter{Project: "app", State: store.RequestWaiting})
	if err := st.TakeRequest(ctx, waiting[0].ID, now); err != nil {
		t.Fatal(err)
	}
	if got := value(scrape(t, srv.URL), "velocity_queue_depth", L{"project": "app"}); got != 1 {
		t.Errorf("queue depth after taking a request: %v, want 1", got)
	}
}

// Two servers in one process (tests, embedding) keep their own counts.
func TestRegistriesAreSeparate(t *testing.T) {
	a, b := telemetry.New(), telemetry.New()
	a.RunFinished(store.Run{Project: "app", Status: store.Succeeded})
	sa, sb := httptest.NewServer(a.Handler()), httptest.NewServer(b.Handler())
	defer sa.Close()
	defer sb.Close()
	if got := value(scrape(t, sa.URL), "velocity_runs_total", map[string]string{"project": "app", "result": "succeeded"}); got != 1 {
		t.Errorf("first server: %v runs, want 1", got)
	}
	if got := value(scrape(t, sb.URL), "velocity_runs_total", map[string]string{"project": "app", "result": "succeeded"}); got != -1 {
		t.Errorf("second server: %v runs, want no series", got)
	}
}
