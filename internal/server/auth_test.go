package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
)

// guarded is the control API's real handlers (runs and releases) behind
// the guard on a TCP listener, as the network listener serves them, with
// a token of each role.
type guarded struct {
	url      string
	secrets  map[access.Role]string
	tokens   *access.Service
	log      *syncBuffer
	shutdown chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newGuarded(t *testing.T, limiter *access.Limiter) *guarded {
	t.Helper()
	d := newData(t)
	g := &guarded{secrets: map[access.Role]string{}, log: &syncBuffer{}, shutdown: make(chan struct{}, 1)}
	logger := slog.New(slog.NewTextHandler(g.log, nil))
	host, err := releases.Open(releases.HostConfig{
		DataDir: d.dir, Journal: d.journal, Blobs: d.blobs, ProxyAddr: "127.0.0.1:0",
		Environ: []string{"PATH=" + os.Getenv("PATH")}, Logger: logger, Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	svc := runs.New(runs.Config{
		Store: d.journal, DataDir: d.dir, Blobs: d.blobs, Version: "test", Environ: os.Environ(),
		NewExecutor: func() (runs.Executor, error) {
			ex, err := local.New()
			if err != nil {
				return nil, err
			}
			return ex, nil
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	srv := &server.Server{
		Releases: host.Service(), Runs: &server.Runs{Service: svc}, Logger: logger,
		Shutdown: func() { g.shutdown <- struct{}{} },
	}
	g.tokens = access.New(access.Config{Store: d.journal})
	for _, role := range []access.Role{access.Viewer, access.Developer, access.Admin} {
		secret, err := g.tokens.Create(context.Background(), string(role)+"-token", role)
		if err != nil {
			t.Fatal(err)
		}
		g.secrets[role] = secret
	}
	guard := &server.Guard{Access: g.tokens, Limiter: limiter, Logger: logger}
	api := httptest.NewServer(guard.Wrap(srv.Handler().(*http.ServeMux)))
	t.Cleanup(api.Close)
	g.url = api.URL
	return g
}

// call makes a request with the secret as a bearer token ("" for none)
// and returns the status and body.
func (g *guarded) call(t *testing.T, method, path, secret, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, g.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (g *guarded) want(t *testing.T, code int, method, path string, role access.Role, body string) string {
	t.Helper()
	got, out := g.call(t, method, path, g.secrets[role], body)
	if got != code {
		t.Fatalf("%s %s as %q: %d %s, want %d", method, path, role, got, out, code)
	}
	return out
}

func TestGuardChecksTokensAndRoles(t *testing.T) {
	g := newGuarded(t, nil)
	dir := projectDir(t, `
stages:
  - name: build
    actions:
      - { name: compile, run: echo compiled }
  - name: release
    approval: manual
    actions:
      - { name: ship, run: echo shipped }
`)
	start, _ := json.Marshal(runs.StartRequest{Dir: dir, Jobs: 1})

	// No token, or a wrong one: 401, whatever the route.
	for _, secret := range []string{"", "vel_wrong", strings.ToUpper(g.secrets[access.Admin])} {
		if code, _ := g.call(t, "POST", "/api/v1/runs", secret, string(start)); code != http.StatusUnauthorized {
			t.Errorf("start a run with token %q: %d, want 401", secret, code)
		}
	}
	if code, _ := g.call(t, "GET", "/api/v1/nothing", "", ""); code != http.StatusUnauthorized {
		t.Errorf("an unknown route without a token: %d, want 401", code)
	}
	g.want(t, http.StatusNotFound, "GET", "/api/v1/nothing", access.Viewer, "")
	g.want(t, http.StatusMethodNotAllowed, "DELETE", "/api/v1/runs", access.Viewer, "")

	// A viewer reads but does not trigger.
	g.want(t, http.StatusForbidden, "POST", "/api/v1/runs", access.Viewer, string(start))
	g.want(t, http.StatusOK, "GET", "/v1/status", access.Viewer, "")

	out := g.want(t, http.StatusCreated, "POST", "/api/v1/runs", access.Developer, string(start))
	var started server.StartedRun
	if err := json.Unmarshal([]byte(out), &started); err != nil {
		t.Fatal(err)
	}
	run := "/api/v1/runs/" + itoa(started.ID)
	g.waitForApproval(t, run)
	g.want(t, http.StatusForbidden, "POST", run+"/approve", access.Viewer, `{"approved":true,"by":"v"}`)
	g.want(t, http.StatusOK, "POST", run+"/approve", access.Developer, `{"approved":true,"by":"dev"}`)
	events := g.want(t, http.StatusOK, "GET", run+"/events", access.Viewer, "")
	if !strings.Contains(events, "event: run_finished") || !strings.Contains(events, `"status":"succeeded"`) {
		t.Errorf("the approved run's events:\n%s", events)
	}

	// Admin only.
	g.want(t, http.StatusForbidden, "POST", "/v1/shutdown", access.Developer, "")
	g.want(t, http.StatusAccepted, "POST", "/v1/shutdown", access.Admin, "")
	select {
	case <-g.shutdown:
	case <-time.After(10 * time.Second):
		t.Error("the admin's shutdown did not reach the server")
	}

	// A revoked token is refused at once.
	if err := g.tokens.Revoke(context.Background(), "developer-token"); err != nil {
		t.Fatal(err)
	}
	g.want(t, http.StatusUnauthorized, "POST", run+"/cancel", access.Developer, `{}`)

	// Refusals are logged by token name and route, never with a secret.
	log := g.log.String()
	for _, want := range []string{
		`token=viewer-token method=POST route="POST /api/v1/runs"`,
		`status=403 token=developer-token method=POST route="POST /v1/shutdown"`,
		`status=401 token=developer-token method=POST route="POST /api/v1/runs/{id}/cancel"`,
		`status=401 token="" method=POST route="POST /api/v1/runs"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}
	for role, secret := range g.secrets {
		if strings.Contains(log, secret) || strings.Contains(log, strings.TrimPrefix(secret, "vel_")) {
			t.Errorf("the log holds the %s's secret", role)
		}
	}
}

// waitForApproval follows the run's events until its gate waits.
func (g *guarded) waitForApproval(t *testing.T, run string) {
	t.Helper()
	req, _ := http.NewRequest("GET", g.url+run+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+g.secrets[access.Viewer])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if sc.Text() == "event: approval_waiting" {
			return
		}
	}
	t.Fatalf("the run never waited for approval: %v", sc.Err())
}

func TestGuardTakesTheBasicAuthPasswordAsToken(t *testing.T) {
	g := newGuarded(t, nil)
	req, _ := http.NewRequest("GET", g.url+"/v1/status", nil)
	req.SetBasicAuth("anyone", g.secrets[access.Viewer])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("basic auth with a viewer's token: %d", res.StatusCode)
	}
	req.SetBasicAuth("anyone", "vel_wrong")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// git asks for credentials only when challenged for basic auth.
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(strings.Join(res.Header.Values("WWW-Authenticate"), ","), "Basic") {
		t.Errorf("basic auth with a wrong password: %d %v", res.StatusCode, res.Header)
	}
}

func TestGuardLimitsEachTokensRate(t *testing.T) {
	now := time.Unix(0, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	g := newGuarded(t, &access.Limiter{Rate: 1, Burst: 2, Now: clock})
	for range 2 {
		g.want(t, http.StatusOK, "GET", "/v1/status", access.Viewer, "")
	}
	req, _ := http.NewRequest("GET", g.url+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+g.secrets[access.Viewer])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" {
		t.Errorf("over the rate: %d, Retry-After %q; want 429, 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// Another token has its own bucket; the first refills with time.
	g.want(t, http.StatusOK, "GET", "/v1/status", access.Developer, "")
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	g.want(t, http.StatusOK, "GET", "/v1/status", access.Viewer, "")
	if log := g.log.String(); !strings.Contains(log, `status=429 token=viewer-token method=GET route="GET /v1/status"`) {
		t.Errorf("the refusal is not logged:\n%s", log)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// An AWS SDK's signature carries the token as its access key ID: the
// guard takes it as it takes a bearer token (the signature itself is not
// checked, the server keeping only the tokens' hashes).
func TestGuardTakesTheAccessKeyIDOfAnAWSSignature(t *testing.T) {
	g := newGuarded(t, nil)
	sign := func(akid string) (int, string) {
		req, _ := http.NewRequest("GET", g.url+"/v1/status", nil)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/20261207/eu-west-1/states/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := sign(g.secrets[access.Viewer]); code != 200 {
		t.Errorf("a viewer's token as access key ID: %d %s", code, body)
	}
	if code, body := sign("vel_not-a-token"); code != 401 {
		t.Errorf("an unknown access key ID: %d %s", code, body)
	}
}

// WrapAPI guards an API routed by something else than its path, each
// request needing the role its need says, refused in the API's own
// shape.
func TestGuardWrapAPIRefusesInTheAPIsShape(t *testing.T) {
	g := newGuarded(t, nil)
	guard := &server.Guard{Access: g.tokens, Logger: slog.New(slog.DiscardHandler)}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := server.TokenOf(r.Context())
		io.WriteString(w, "hello "+tok.Name)
	})
	need := func(r *http.Request) (string, access.Role) {
		return "Action." + r.Header.Get("X-Action"), access.Role(r.Header.Get("X-Action"))
	}
	refuse := func(w http.ResponseWriter, code int, err error) {
		w.WriteHeader(code)
		io.WriteString(w, "refused: "+err.Error())
	}
	api := httptest.NewServer(guard.WrapAPI(ok, need, refuse))
	t.Cleanup(api.Close)
	for _, c := range []struct {
		secret string
		role   access.Role
		code   int
		body   string
	}{
		{g.secrets[access.Developer], access.Developer, 200, "hello developer-token"},
		{g.secrets[access.Viewer], access.Developer, 403, "refused: token viewer-token has role viewer; Action.developer needs developer"},
		{"", access.Viewer, 401, "refused: "},
	} {
		req, _ := http.NewRequest("POST", api.URL, nil)
		req.Header.Set("X-Action", string(c.role))
		if c.secret != "" {
			req.Header.Set("Authorization", "Bearer "+c.secret)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.code || !strings.HasPrefix(string(b), c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.role, res.StatusCode, b, c.code, c.body)
		}
	}
}

// TestGuardLimitsEachAddressOnPublicRoutes: a webhook carries no token,
// so a flood of them is limited by the address it comes from; other
// addresses are not slowed.
func TestGuardLimitsEachAddressOnPublicRoutes(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	g := &server.Guard{Roles: map[string]access.Role{"POST /hooks/x": server.Public}, PublicLimiter: &access.Limiter{Rate: 1, Burst: 2}}
	h := g.Wrap(mux)
	post := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/hooks/x", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 2 {
		if w := post("192.0.2.1:1000"); w.Code != http.StatusAccepted {
			t.Fatalf("request %d within the burst: %d", i, w.Code)
		}
	}
	w := post("192.0.2.1:1001")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("over the burst: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if w := post("198.51.100.7:1000"); w.Code != http.StatusAccepted {
		t.Errorf("another address: %d", w.Code)
	}
}

// TestGuardLogsGitsFirstProbeQuietly: git asks without credentials
// before every clone and push, so that refusal is logged at info; a
// refusal of the API without a token stays a warning.
func TestGuardLogsGitsFirstProbeQuietly(t *testing.T) {
	d := newData(t)
	var log syncBuffer
	guard := &server.Guard{Access: access.New(access.Config{Store: d.journal}), Logger: slog.New(slog.NewTextHandler(&log, nil))}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	git := guard.WrapAPI(ok, func(*http.Request) (string, access.Role) { return "git push p", access.Developer }, nil)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/status", ok)
	api := guard.Wrap(mux)
	for _, c := range []struct {
		h     http.Handler
		path  string
		level string
	}{{git, "/git/p.git/info/refs", "level=INFO"}, {api, "/v1/status", "level=WARN"}} {
		before := len(log.String())
		w := httptest.NewRecorder()
		c.h.ServeHTTP(w, httptest.NewRequest("GET", c.path, nil))
		line := log.String()[before:]
		if w.Code != http.StatusUnauthorized || !strings.Contains(line, c.level) || !strings.Contains(line, "API request refused") {
			t.Errorf("%s without a token: %d, logged %q, want %s", c.path, w.Code, line, c.level)
		}
	}
}
