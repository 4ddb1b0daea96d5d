package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// alertInbox is a chat webhook in the test: it keeps the texts posted.
type alertInbox struct {
	*httptest.Server
	mu    sync.Mutex
	texts []string
}

func newAlertInbox(t *testing.T) *alertInbox {
	in := &alertInbox{}
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.URL.Path != "/services/T0/B0/secret" {
			http.Error(w, "bad", 400)
			return
		}
		in.mu.Lock()
		in.texts = append(in.texts, body.Text)
		in.mu.Unlock()
	}))
	t.Cleanup(in.Close)
	return in
}

func (in *alertInbox) received() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.texts...)
}

// waitAlerts waits until n alerts arrived, then a little more for any
// unexpected one.
func (in *alertInbox) waitAlerts(t *testing.T, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); len(in.received()) < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d alerts received, want %d: %q", len(in.received()), n, in.received())
		}
	}
	time.Sleep(300 * time.Millisecond)
	return in.received()
}

// scrapeMetrics GETs the listener's /metrics with token and parses it
// with Prometheus's text parser.
func scrapeMetrics(t *testing.T, api, token string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := call(t, "GET", api+"/metrics", token, "")
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return mfs
}

// metricSum is the sum of the counters, gauges or histogram counts of
// family name whose labels include want.
func metricSum(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	sum := 0.0
	for _, m := range mfs[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && have[k] == v
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// TestMetricsAndAlertsOfATeamServer: a team server's /metrics, scraped
// with a viewer token, counts the runs, actions, cache hits, deploys,
// rollbacks and proxied requests that really happened; the project's
// alert webhook hears of the failed run on main and of the rollback,
// and not of the successes.
func TestMetricsAndAlertsOfATeamServer(t *testing.T) {
	requireTool(t, "python3")
	ts := startTeamServer(t)
	proxyAddr := ts.waitFor(t, regexp.MustCompile(`proxy at http://(127\.0\.0\.1:\d+)`), 5*time.Second)[1]
	inbox := newAlertInbox(t)
	repo := project(t, map[string]string{
		"app.py": `import http.server, os
here = os.path.dirname(os.path.abspath(__file__))
version = open(os.path.join(here, "version.txt")).read().strip()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(("release " + version + "\n").encode())
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`,
		"version.txt": "v1\n",
		"mode.txt":    "good\n",
		"velocity.yml": `
name: app
stages:
  - name: build
    actions:
      - { name: package, run: "mkdir -p out && cp app.py version.txt out/", inputs: [app.py, version.txt], outputs: [out] }
      - { name: check, run: 'test "$(cat mode.txt)" = good', inputs: [mode.txt] }
  - name: prod
    actions:
      - { name: deploy, deploy: api, environment: prod }
services:
  api:
    from: package
    run: exec python3 out/app.py
    health: { http: /, interval: 200ms }
environments:
  prod: {}
`,
	})
	git(t, repo, "init", "-q")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "import")
	if r := ts.env.run(t.TempDir(), "project", "add", "app", "--repo", repo, "--alert-webhook", inbox.URL+"/services/T0/B0/secret"); r.code != 0 {
		t.Fatalf("project add: exit %d\n%s", r.code, r.stderr)
	} else if !strings.Contains(r.stderr, "alerts:") {
		t.Errorf("project add does not say alerts are set:\n%s", r.stderr)
	}
	if code, body := call(t, "GET", ts.api+"/api/v1/projects/app", ts.tokens["viewer"], ""); code != 200 || strings.Contains(body, "secret") || !strings.Contains(body, `"alerts":true`) {
		t.Errorf("the API shows the project as %d %s; want alerts set, never the URL", code, body)
	}

	remote := "http://velocity:" + ts.tokens["developer"] + "@" + strings.TrimPrefix(ts.api, "http://") + "/git/app.git"
	work := t.TempDir()
	git(t, work, "clone", "-q", remote, ".")
	push := func(files map[string]string) projectRun {
		t.Helper()
		var commit string
		for name, content := range files {
			commit = commitFile(t, work, name, content)
		}
		git(t, work, "push", "-q", remote, "main")
		return ts.waitRun(t, "app", commit)
	}

	// A good commit goes live, and a request goes through the proxy.
	if run := push(map[string]string{"CHANGES": "one\n"}); run.Status != "succeeded" {
		t.Fatalf("first run: %+v\n%s", run, ts.out)
	}
	if code, body := get(t, proxyAddr, "api.prod.localhost", "/"); code != 200 || body != "release v1\n" {
		t.Fatalf("through the proxy: %d %q", code, body)
	}
	// A failing check: package comes from the cache, the run fails on main.
	if run := push(map[string]string{"mode.txt": "bad\n"}); run.Status != "failed" {
		t.Fatalf("second run: %+v", run)
	}
	alerts := inbox.waitAlerts(t, 1)
	if len(alerts) != 1 || !regexp.MustCompile(`^velocity: run \d+ of app failed on main`).MatchString(alerts[0]) {
		t.Fatalf("alerts after a success and a failure on main: %q, want the failure's alone", alerts)
	}
	// A new release, then a rollback to the first.
	if run := push(map[string]string{"mode.txt": "good\n", "version.txt": "v2\n"}); run.Status != "succeeded" {
		t.Fatalf("third run: %+v", run)
	}
	if r := ts.env.run(t.TempDir(), "rollback", "prod", "api"); r.code != 0 {
		t.Fatalf("rollback: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	alerts = inbox.waitAlerts(t, 2)
	if len(alerts) != 2 || !strings.Contains(alerts[1], "prod/api rolled back to release") {
		t.Errorf("alerts: %q, want the failed run's and the rollback's", alerts)
	}

	if code, _ := call(t, "GET", ts.api+"/metrics", "", ""); code != 401 {
		t.Errorf("/metrics without a token: %d, want 401", code)
	}
	mfs := scrapeMetrics(t, ts.api, ts.tokens["viewer"])
	type L = map[string]string
	for _, c := range []struct {
		name   string
		labels L
		want   float64
	}{
		{"velocity_runs_total", L{"project": "app", "result": "succeeded"}, 2},
		{"velocity_runs_total", L{"project": "app", "result": "failed"}, 1},
		{"velocity_run_duration_seconds", L{"project": "app"}, 3},
		{"velocity_actions_total", L{"project": "app", "action": "build/check", "result": "failed"}, 1},
		{"velocity_actions_total", L{"project": "app", "action": "build/package", "result": "cached"}, 1},
		{"velocity_action_duration_seconds", L{"project": "app", "action": "prod/deploy"}, 2},
		// package and check miss in the first run; package hits in the
		// second, check misses (mode.txt changed); check hits in the third
		// (mode.txt as in the first), package misses (version.txt).
		{"velocity_cache_hits_total", L{"project": "app"}, 2},
		{"velocity_cache_misses_total", L{"project": "app"}, 4},
		{"velocity_deploys_total", L{"environment": "prod", "service": "api", "result": "live"}, 2},
		{"velocity_rollbacks_total", L{"environment": "prod", "service": "api", "result": "live"}, 1},
		{"velocity_queue_depth", L{"project": "app"}, 0},
		{"velocity_proxy_requests_total", L{"environment": "prod", "service": "api", "code": "200"}, 1},
		{"velocity_proxy_request_duration_seconds", L{"environment": "prod", "service": "api"}, 1},
	} {
		if got := metricSum(mfs, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if mfs["velocity_queue_depth"] == nil {
		t.Errorf("no queue depth family")
	}
	if got := metricSum(mfs, "velocity_journal_write_duration_seconds", L{"op": "finish_attempt"}); got < 6 {
		t.Errorf("%v timed finish_attempt writes, want one per action of the three runs at least", got)
	}
}
