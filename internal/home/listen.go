package home

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/gitremote"
	"github.com/velocity-ci/velocity/internal/projects"
	registryapi "github.com/velocity-ci/velocity/internal/registry"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/stepfunctions"
	"github.com/velocity-ci/velocity/internal/trigger"
	"github.com/velocity-ci/velocity/internal/web"
)

// Limits of the network listener.
const (
	// apiRate and apiBurst are each token's requests: a burst of 50
	// covers a person's or a UI page's flurry and a script's catching
	// up, 10 a second sustained is far above what watching runs takes
	// (one request per stream), and a runaway loop is slowed to that.
	apiRate  = 10
	apiBurst = 50
	// hookRate and hookBurst are each remote address's webhooks.
	hookRate  = 10
	hookBurst = 200
	// maxBody is the largest request body; the API's own bodies are
	// small JSON, and each handler caps its own further.
	maxBody = 16 << 20
	// bodyTimeout is how long a client may take to send its body.
	bodyTimeout = 30 * time.Second
)

// ListenConfig is where the network listener listens and, when both
// files are set, its TLS certificate chain and key (PEM).
type ListenConfig struct {
	Addr    string
	TLSCert string
	TLSKey  string
	// RegistryMaxBlob is the largest blob the container registry
	// takes; 0 is registry.DefaultMaxBlob.
	RegistryMaxBlob int64
}

// Listen serves the control API of host (and of runsAPI when not nil),
// and the Step Functions API (see stepFunctions), on a TCP address until the returned func is called, every request
// behind a token of the data directory (server.Guard), at most
// apiRate a second per token. It returns the API's base URL.
//
// Timeouts bound slow clients without cutting long answers: headers
// within ReadHeaderTimeout, bodies within bodyTimeout (LimitBodies), an
// idle connection IdleTimeout; no ReadTimeout or WriteTimeout, which
// would end a run's event stream or a deploy's log while it lasts.
func (h *Home) Listen(ctx context.Context, cfg ListenConfig, host *releases.Host, runsAPI *runs.Service, projectsAPI *projects.Service, shutdown func()) (string, func(), error) {
	var tlsConfig *tls.Config
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return "", nil, fmt.Errorf("API listener certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return "", nil, fmt.Errorf("API listener: %w", err)
	}
	url := "http://" + ln.Addr().String()
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
		url = "https://" + ln.Addr().String()
	}
	guard := &server.Guard{
		Access:  h.Access(),
		Limiter: &access.Limiter{Rate: apiRate, Burst: apiBurst},
		// A forge sends one delivery per push, from a few addresses.
		PublicLimiter: &access.Limiter{Rate: hookRate, Burst: hookBurst},
		Logger:        h.cfg.Log,
	}
	// The guard needs the mux itself, to tell which route a request is
	// for; Handler returns one.
	ctl := h.controlAPI(host, runsAPI, shutdown)
	if projectsAPI != nil {
		ctl.Projects = &server.Projects{Service: projectsAPI, Logger: h.cfg.Log}
	}
	mux := ctl.Handler().(*http.ServeMux)
	execs := h.Executions(ctx)
	sfn, stopSFN, err := h.stepFunctions(execs)
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	both := withStepFunctions(guard.WrapAPI(sfn, stepfunctions.RoleOf, stepfunctions.Refuse), guard.Wrap(mux))
	var git http.Handler = http.NotFoundHandler()
	if projectsAPI != nil {
		git = guard.WrapAPI(&gitremote.Handler{Repo: projectsAPI.MirrorDir, Pushed: pushed(projectsAPI), Log: h.cfg.Log}, gitremote.RoleOf, gitremote.Refuse)
	}
	site, err := h.site(host, runsAPI, projectsAPI, execs, tlsConfig != nil)
	if err != nil {
		ln.Close()
		stopSFN()
		return "", nil, err
	}
	// A push may take up to gitremote.Timeout once admitted (the handler
	// extends the deadline); before that, the body has bodyTimeout like
	// any other, so a caller without a token cannot hold a connection.
	git = server.LimitBodies(git, gitremote.MaxPush, bodyTimeout)
	reg, err := h.registryHandler(guard, cfg.RegistryMaxBlob)
	if err != nil {
		ln.Close()
		stopSFN()
		return "", nil, err
	}
	handler := route(git, reg, server.LimitBodies(guard.Wrap(mux), trigger.MaxBody+1, bodyTimeout), server.LimitBodies(both, maxBody, bodyTimeout),
		server.LimitBodies(site.Handler(), maxBody, bodyTimeout), h.metricsHandler(guard, host))
	api := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go api.Serve(ln)
	stop := func() {
		c, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		// Event streams end only with their client or their run: past
		// the grace period they are cut.
		if api.Shutdown(c) != nil {
			api.Close()
		}
		stopSFN()
	}
	return url, stop, nil
}

// StateMachinesDir is the directory of the data directory where the
// local commands of executions started through the Step Functions API
// run, and their relative paths resolve: such a state machine has no
// definition file whose directory would be theirs.
func (h *Home) StateMachinesDir() string { return filepath.Join(h.Dir, "statemachines") }

// stepFunctions is the Step Functions API over the executions of the
// data directory. The executions it starts run in this process; stop
// leaves those still running resumable (velocity serve resumes them
// when it starts again).
func (h *Home) stepFunctions(svc *executions.Service) (http.Handler, func(), error) {
	dir := h.StateMachinesDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("state machines directory: %w", err)
	}
	handler := &stepfunctions.Handler{
		Executions:    svc,
		StateMachines: &executions.StateMachines{Store: h.Store, Dir: dir},
		Log:           h.cfg.Log,
	}
	stop := func() {
		svc.Abandon()
		svc.Close()
	}
	return handler, stop, nil
}

// withStepFunctions sends the requests of the Step Functions API (at /,
// their action in a header) to sfn, the rest to api.
func withStepFunctions(sfn, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && stepfunctions.Target(r) {
			sfn.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// route sends the git remote's requests to git, and the container
// registry's (/v2/) to registry, which bound their own bodies and time
// (a push may be large and slow: the API's cap would cut it); webhooks to hooks, capped at the forges' largest payload;
// the API's (and Step Functions') to api; Prometheus's scrapes to
// metrics; the rest to the web UI.
func route(git, registry, hooks, api, web, metrics http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case gitremote.Match(r):
			git.ServeHTTP(w, r)
		case registryapi.Match(r):
			registry.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/hooks/"):
			hooks.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/api/"), strings.HasPrefix(p, "/v1/"), p == "/" && stepfunctions.Target(r):
			api.ServeHTTP(w, r)
		case p == "/metrics":
			metrics.ServeHTTP(w, r)
		default:
			web.ServeHTTP(w, r)
		}
	})
}

// registryHandler is the container registry behind the guard: pulls
// need a viewer's token, pushes and deletes a developer's. Its bodies
// are capped at the largest blob, within bodyTimeout until the request
// is admitted (the handler extends it then, as the git remote does).
func (h *Home) registryHandler(guard *server.Guard, maxBlob int64) (http.Handler, error) {
	st, err := h.registryStorage()
	if err != nil {
		return nil, err
	}
	if maxBlob > 0 {
		st.MaxBlob = maxBlob
	}
	g := *guard
	g.Limiter = &access.Limiter{Rate: registryRate, Burst: registryBurst}
	reg := g.WrapAPI(&registryapi.Handler{Storage: st, Log: h.cfg.Log}, registryapi.RoleOf, registryapi.Refuse)
	// The storage counts a blob's bytes across the chunks of its
	// upload; a single request is bounded by the same number.
	return server.LimitBodies(reg, max(st.MaxBlob, registryapi.DefaultMaxBlob), bodyTimeout), nil
}

// site is the web UI over the services the listener serves.
func (h *Home) site(host *releases.Host, runsAPI *runs.Service, projectsAPI *projects.Service, execs *executions.Service, secure bool) (*web.Site, error) {
	key, err := h.webKey()
	if err != nil {
		return nil, err
	}
	return &web.Site{
		Runs: runsAPI, Projects: projectsAPI, Releases: host.Service(), Catalog: h.Catalog(),
		Executions: execs, Access: h.Access(), Key: key, Secure: secure, Log: h.cfg.Log,
		Dora: h.Dora(),
	}, nil
}

// pushed tells the projects service what a push to the git remote
// changed.
func pushed(svc *projects.Service) func(ctx context.Context, name, by string, updates []gitremote.RefUpdate) error {
	return func(ctx context.Context, name, by string, updates []gitremote.RefUpdate) error {
		out := make([]projects.RefUpdate, len(updates))
		for i, u := range updates {
			out[i] = projects.RefUpdate{Ref: u.Ref, Before: u.Before, After: u.After}
		}
		return svc.Pushed(ctx, name, by, out)
	}
}
