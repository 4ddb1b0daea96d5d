package tracing

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// traced is a runs service on a fresh data directory with the real
// journal, blob store and local executor, whose finished runs go to ex.
type traced struct {
	svc   *runs.Service
	store *sqlite.Store
	// handOver is how long the last run's goroutine spent on its trace.
	handOver time.Duration
}

func newTraced(t *testing.T, ex *Exporter) *traced {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := artifact.OpenBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	tr := &traced{store: st}
	tr.svc = runs.New(runs.Config{
		Store: st, Leases: st, DataDir: dir, Blobs: blobs, Version: "test", Environ: os.Environ(),
		NewExecutor: func() (runs.Executor, error) { return local.New() },
		Logger:      quiet(),
		OnFinished: func(ctx context.Context, r runs.Result) {
			began := time.Now()
			ex.Finished(ctx, st, r.Run, r.Err)
			tr.handOver = time.Since(began)
		},
	})
	return tr
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// run runs the project in dir to its end.
func (tr *traced) run(t *testing.T, req runs.StartRequest) store.Run {
	t.Helper()
	ctx := context.Background()
	id, err := tr.svc.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := tr.svc.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return res.Run
}

// repo is a git repository on branch main whose pipeline has two
// stages: a build whose first action is cacheable and whose second
// succeeds at its second attempt, and a check that fails with exit code 3.
func repo(t *testing.T) (dir, commit string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir = t.TempDir()
	mark := filepath.Join(t.TempDir(), "tried")
	yml := `name: traced
stages:
  - name: build
    actions:
      - name: compile
        run: echo compiling
        inputs: []
      - name: test
        needs: [compile]
        env: { MARK: "` + mark + `" }
        run: |
          if [ ! -f "$MARK" ]; then touch "$MARK"; echo flaky; exit 1; fi
          echo passed
        retry: { attempts: 2, backoff: 0s }
  - name: check
    actions:
      - name: lint
        run: "echo bad; exit 3"
`
	if err := os.WriteFile(filepath.Join(dir, "velocity.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "user.name=T", "-c", "user.email=t@example.com",
			"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "pipeline")
	return dir, git("rev-parse", "HEAD")
}

// A finished run reaches the collector as one trace: the run's span,
// a child per stage, under each stage a child per action, with the
// journal's times, the run's and actions' attributes, and an error
// status on what failed. A second run marks the action it took from
// the cache.
func TestRunsAreExportedAsTraces(t *testing.T) {
	col := newCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer s3cret")
	ex, err := New(context.Background(), Config{Getenv: col.env("OTEL_SERVICE_NAME", "ci"), Version: "1.2.3", Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tr := newTraced(t, ex)
	dir, commit := repo(t)
	first := tr.run(t, runs.StartRequest{Dir: dir, Jobs: 2, Trigger: "push by alice"})
	second := tr.run(t, runs.StartRequest{Dir: dir, Jobs: 2})
	if first.Status != store.Failed || second.Status != store.Failed {
		t.Fatalf("runs ended %s and %s, want failed (check/lint exits 3)", first.Status, second.Status)
	}
	if err := ex.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := col.received()
	if got := col.header.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("collector got Authorization %q, want the one OTEL_EXPORTER_OTLP_HEADERS sets", got)
	}
	if col.resource["service.name"] != "ci" || col.resource["service.version"] != "1.2.3" {
		t.Errorf("resource %v, want service.name ci (OTEL_SERVICE_NAME) and service.version 1.2.3", col.resource)
	}

	byRun := map[int64][]*tracepb.Span{}
	for _, s := range spans {
		id, _ := attrs(s)["velocity.run.id"].(int64)
		byRun[id] = append(byRun[id], s)
	}
	if len(byRun) != 2 || len(byRun[first.ID]) != 6 || len(byRun[second.ID]) != 6 {
		t.Fatalf("got %d spans, by run %v; want 6 for each of runs %d and %d (run, 2 stages, 3 actions)",
			len(spans), counts(byRun), first.ID, second.ID)
	}

	// The first run: structure, names, attributes, statuses, times.
	got := index(t, byRun[first.ID])
	run := got["run traced"]
	if len(run.ParentSpanId) != 0 {
		t.Errorf("the run's span has a parent %x", run.ParentSpanId)
	}
	for _, s := range byRun[first.ID] {
		if !bytes.Equal(s.TraceId, run.TraceId) {
			t.Errorf("%s is in trace %x, want the run's %x", s.Name, s.TraceId, run.TraceId)
		}
	}
	parents := map[string]string{
		"stage build": "run traced", "stage check": "run traced",
		"action build/compile": "stage build", "action build/test": "stage build", "action check/lint": "stage check",
	}
	for child, parent := range parents {
		if !bytes.Equal(got[child].ParentSpanId, got[parent].SpanId) {
			t.Errorf("%s's parent is %x, want %s (%x)", child, got[child].ParentSpanId, parent, got[parent].SpanId)
		}
	}
	wantAttrs(t, run, map[string]any{
		"velocity.project": "traced", "velocity.run.id": first.ID, "velocity.commit": commit, "velocity.branch": "main",
		"velocity.trigger": "push by alice", "velocity.run.status": "failed",
	})
	wantTimes(t, run, first.Created, first.Finished)
	wantStatus(t, run, tracepb.Status_STATUS_CODE_ERROR)

	actions, err := tr.store.Actions(context.Background(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	journal := map[string]store.Action{}
	for _, a := range actions {
		journal[a.Stage+"/"+a.Name] = a
		wantTimes(t, got["action "+a.Stage+"/"+a.Name], a.Started, a.Finished)
	}
	wantAttrs(t, got["action build/compile"], map[string]any{
		"velocity.action": "build/compile", "velocity.action.status": "succeeded", "velocity.action.exit_code": int64(0),
		"velocity.action.attempts": int64(1), "velocity.action.cached": false,
	})
	wantAttrs(t, got["action build/test"], map[string]any{
		"velocity.action.status": "succeeded", "velocity.action.exit_code": int64(0), "velocity.action.attempts": int64(2),
		"velocity.action.needs": []any{"compile"},
	})
	// Each attempt is an event of its action's span, at its end.
	tries, err := tr.store.Attempts(context.Background(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	var testTries []store.Attempt
	for _, a := range tries {
		if a.Stage == "build" && a.Action == "test" {
			testTries = append(testTries, a)
		}
	}
	events := got["action build/test"].Events
	if len(events) != 2 || len(testTries) != 2 {
		t.Fatalf("build/test: %d events, %d attempts journaled; want 2 of each", len(events), len(testTries))
	}
	for i, ev := range events {
		m := map[string]any{}
		for _, kv := range ev.Attributes {
			m[kv.Key] = value(kv.Value)
		}
		want := map[string]any{"velocity.attempt": int64(i + 1), "velocity.attempt.status": []string{"failed", "succeeded"}[i],
			"velocity.attempt.exit_code": []int64{1, 0}[i]}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("build/test event %d (%s): %s = %#v, want %#v", i, ev.Name, k, m[k], v)
			}
		}
		if ev.TimeUnixNano != uint64(testTries[i].Finished.UnixNano()) {
			t.Errorf("build/test event %d at %d, want the attempt's end %v", i, ev.TimeUnixNano, testTries[i].Finished)
		}
	}
	wantAttrs(t, got["action check/lint"], map[string]any{
		"velocity.action.status": "failed", "velocity.action.exit_code": int64(3), "velocity.action.attempts": int64(1),
	})
	wantStatus(t, got["action build/compile"], tracepb.Status_STATUS_CODE_UNSET)
	wantStatus(t, got["action check/lint"], tracepb.Status_STATUS_CODE_ERROR)
	wantStatus(t, got["stage build"], tracepb.Status_STATUS_CODE_UNSET)
	wantStatus(t, got["stage check"], tracepb.Status_STATUS_CODE_ERROR)
	// A stage spans its actions: from the first start to the last finish.
	build := got["stage build"]
	wantTimes(t, build, journal["build/compile"].Started, journal["build/test"].Finished)

	// The second run took compile's result from the first.
	again := index(t, byRun[second.ID])
	if bytes.Equal(again["run traced"].TraceId, run.TraceId) {
		t.Error("two runs share a trace")
	}
	compile := attrs(again["action build/compile"])
	wantAttrs(t, again["action build/compile"], map[string]any{
		"velocity.action.status": "cached", "velocity.action.cached": true, "velocity.action.cached_from": first.ID,
	})
	if _, ok := compile["velocity.action.exit_code"]; ok {
		t.Errorf("a cached action has an exit code: %v", compile)
	}
	if _, ok := attrs(again["run traced"])["velocity.trigger"]; ok {
		t.Error("a run from the command line has a trigger")
	}
}

func counts(m map[int64][]*tracepb.Span) map[int64]int {
	out := map[int64]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}

// index maps spans by name, each name once.
func index(t *testing.T, spans []*tracepb.Span) map[string]*tracepb.Span {
	t.Helper()
	m := map[string]*tracepb.Span{}
	for _, s := range spans {
		if m[s.Name] != nil {
			t.Errorf("two spans named %q", s.Name)
		}
		m[s.Name] = s
	}
	return m
}

func wantAttrs(t *testing.T, s *tracepb.Span, want map[string]any) {
	t.Helper()
	got := attrs(s)
	for k, v := range want {
		if g := got[k]; !equal(g, v) {
			t.Errorf("%s: %s = %#v, want %#v", s.Name, k, g, v)
		}
	}
}

func equal(a, b any) bool {
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok {
		if len(as) != len(bs) {
			return false
		}
		for i := range as {
			if as[i] != bs[i] {
				return false
			}
		}
		return true
	}
	return a == b
}

func wantTimes(t *testing.T, s *tracepb.Span, start, end time.Time) {
	t.Helper()
	if s.StartTimeUnixNano != uint64(start.UnixNano()) || s.EndTimeUnixNano != uint64(end.UnixNano()) {
		t.Errorf("%s: from %v to %v, want the journal's %v to %v", s.Name,
			time.Unix(0, int64(s.StartTimeUnixNano)), time.Unix(0, int64(s.EndTimeUnixNano)), start, end)
	}
}

func wantStatus(t *testing.T, s *tracepb.Span, code tracepb.Status_StatusCode) {
	t.Helper()
	if got := s.GetStatus().GetCode(); got != code {
		t.Errorf("%s: status %v (%q), want %v", s.Name, got, s.GetStatus().GetMessage(), code)
	}
}

// A collector that is down or does not answer fails nothing: the run
// succeeds, handing its spans over takes no time the run would notice,
// and Close gives up after FlushTimeout.
func TestCollectorDownCostsRunsNothing(t *testing.T) {
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}()
	hung := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	defer silent.Close()
	defer close(hung)

	for _, c := range []struct{ name, url string }{{"refused", refused}, {"silent", silent.URL}} {
		t.Run(c.name, func(t *testing.T) {
			env := func(k string) string {
				if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
					return c.url
				}
				return ""
			}
			var logged bytes.Buffer
			ex, err := New(context.Background(), Config{Getenv: env, Log: slog.New(slog.NewTextHandler(&logged, nil))})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "velocity.yml"), []byte("name: down\nstages:\n  - name: s\n    actions:\n      - { name: a, run: echo hi }\n"), 0o644)
			tr := newTraced(t, ex)
			run := tr.run(t, runs.StartRequest{Dir: dir, Jobs: 1})
			if run.Status != store.Succeeded {
				t.Fatalf("run %s (%s), want succeeded", run.Status, run.Reason)
			}
			if tr.handOver > 250*time.Millisecond {
				t.Errorf("handing the run's spans over took %v", tr.handOver)
			}
			began := time.Now()
			ex.Close(context.Background())
			took := time.Since(began)
			t.Logf("collector %s: hand-over %v, Close %v", c.name, tr.handOver, took)
			if took > FlushTimeout+500*time.Millisecond {
				t.Errorf("Close took %v, want at most FlushTimeout (%v)", took, FlushTimeout)
			}
			if c.name == "refused" && !strings.Contains(logged.String(), "traces not exported") {
				t.Errorf("the failure was not logged: %q", logged.String())
			}
		})
	}
}

// Only the standard variables turn exporting on.
func TestEnabledByTheStandardVariables(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, false},
	} {
		getenv := func(k string) string { return c.env[k] }
		if got := Enabled(getenv); got != c.want {
			t.Errorf("Enabled(%v) = %v, want %v", c.env, got, c.want)
		}
	}
	if _, err := New(context.Background(), Config{Getenv: func(string) string { return "" }}); err == nil {
		t.Error("New without an endpoint succeeded")
	}
}

// The traces endpoint is used as it is; the general one gets the
// signal's path.
func TestTracesEndpointIsUsedAsItIs(t *testing.T) {
	col := newCollector(t)
	col.path = "/custom/traces"
	ex, err := New(context.Background(), Config{Getenv: func(k string) string {
		return map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": col.srv.URL + "/custom/traces",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}[k]
	}, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ex.Record(store.Run{ID: 7, Project: "p", Status: store.Succeeded, Created: time.Now(), Finished: time.Now()}, nil, nil, nil)
	if err := ex.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if spans := col.received(); len(spans) != 1 || spans[0].Name != "run p" {
		t.Errorf("got %v, want the run's span", spans)
	}
	if id := hex.EncodeToString(col.received()[0].TraceId); len(id) != 32 {
		t.Errorf("trace id %q", id)
	}
}
