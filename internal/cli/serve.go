package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/proxy"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

// socketPath is the control socket of the data directory's server.
func (h *home) socketPath() string { return filepath.Join(h.dir, "velocity.sock") }

type serveOptions struct {
	proxyAddr string
	tlsCert   string
	tlsKey    string
	portRange string
}

func (a *app) serveCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Host deployed services behind the proxy until stopped; velocity run and rollback deploy through it",
		Long: `Run the standing server of the data directory: the runtime that supervises
deployed services, the proxy in front of them, and a control API on the unix
socket DATA/velocity.sock that 'velocity run', 'velocity rollback' and
'velocity service status' use. Every deploy is journaled first; when the
server starts it brings back what was live and marks deploys that were in
progress as interrupted. SIGTERM or Ctrl-C stops it gracefully: requests in
flight finish, then the instances stop.`,
		Args: cobra.NoArgs,
		RunE: a.withHome(func(ctx context.Context, h *home, _ []string) error {
			return a.serve(ctx, h, o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.proxyAddr, "proxy-addr", "", "where the proxy listens (default $VELOCITY_PROXY_ADDR, else 127.0.0.1:8080)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve the proxy with TLS: certificate chain `FILE` (PEM; needs --tls-key)")
	f.StringVar(&o.tlsKey, "tls-key", "", "private key `FILE` of --tls-cert (PEM)")
	f.StringVar(&o.portRange, "port-range", "", "take the ports of deployed instances from `LOW-HIGH` only, e.g. 41000-41099, unless the deploying project sets its own (port_range, run --port-range)")
	return cmd
}

func (a *app) proxyAddr(flag string) string {
	if flag != "" {
		return flag
	}
	if env := a.getenv("VELOCITY_PROXY_ADDR"); env != "" {
		return env
	}
	return "127.0.0.1:8080"
}

func (a *app) serve(ctx context.Context, h *home, o serveOptions) error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageError("--tls-cert and --tls-key go together")
	}
	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		var err error
		if tlsConfig, err = proxy.LoadTLSConfig(o.tlsCert, o.tlsKey); err != nil {
			return usageError("%v", err)
		}
	}
	// One server per data directory: the lock is held for the process's
	// life and released by the kernel however it ends, so a socket file
	// found while holding it is a dead server's.
	lock, err := lockfile.Acquire(filepath.Join(h.dir, "serve.lock"))
	if err != nil {
		return fmt.Errorf("velocity serve already runs for %s (control socket %s)", h.dir, h.socketPath())
	}
	defer lock.Release()

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	blobs, err := artifact.OpenBlobs(h.blobDir())
	if err != nil {
		return err
	}
	secrets, err := a.openSecrets(h)
	if err != nil {
		return err
	}
	var ports netport.Range
	if o.portRange != "" {
		if ports, err = netport.Parse(o.portRange, "velocity serve --port-range"); err != nil {
			return usageError("--port-range: %v", err)
		}
	}
	rt, err := runtime.NewLocal(runtime.Config{Logger: a.log, PortRange: ports})
	if err != nil {
		return err
	}
	defer func() {
		c, done := context.WithTimeout(context.Background(), 15*time.Second)
		defer done()
		rt.Close(c)
	}()
	// Said at every start, enforced or not: the services this server will
	// host are not known yet, and whoever deploys through it never sees
	// the runtime's probe otherwise.
	_, limitsNote := rt.Limits()
	px, proxyURL, err := a.startProxy(a.proxyAddr(o.proxyAddr), tlsConfig, cancel)
	if err != nil {
		return err
	}
	defer px.Close()

	dep := &deploy.Deployer{Runtime: rt, Proxy: px, Blobs: blobs, Dir: filepath.Join(h.dir, "releases"), ProxyURL: proxyURL, Logger: a.log}
	defer func() {
		// Requests in flight finish before the instances behind them stop.
		c, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		if err := px.Shutdown(c); err != nil {
			a.log.Warn("proxy shutdown", "err", err)
		}
		dep.Close()
	}()
	srv := &server.Server{
		Deployer: dep, Journal: h.store, Secrets: secrets, Logger: a.log, Version: Version,
		Env:      func(passthrough []string) []string { return engine.HostEnv(a.environ(), passthrough) },
		Shutdown: cancel,
	}

	sock := h.socketPath()
	os.Remove(sock)
	ctl, err := listenPrivate(sock)
	if err != nil {
		return err
	}
	defer os.Remove(sock)
	rec, err := srv.Recover(ctx)
	if err != nil {
		ctl.Close()
		return err
	}
	api := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go api.Serve(ctl)
	defer api.Close()

	fmt.Fprintf(a.stdout, "velocity: serving; proxy at %s, control socket %s (Ctrl-C to stop)\n", proxyURL, sock)
	fmt.Fprintf(a.stdout, "velocity: %s\n", limitsNote)
	go a.reportRecovery(rec)
	a.resumeWorkflows(ctx, h)
	<-ctx.Done()
	fmt.Fprintf(a.stdout, "velocity: stopping: draining the proxy, then stopping the services\n")
	c, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	api.Shutdown(c)
	return nil
}

// resumeWorkflows gets workflow executions whose process died going again
// when the server starts, as every workflow command does. They run in a
// process of their own, so stopping the server does not interrupt them.
func (a *app) resumeWorkflows(ctx context.Context, h *home) {
	svc := a.workflowService(ctx, h)
	defer svc.Close()
	svc.ResumeInBackground(ctx)
}

// reportRecovery says what the journal held when the server started,
// once the live releases are back.
func (a *app) reportRecovery(rec *server.Recovery) {
	for _, d := range rec.Interrupted {
		fmt.Fprintf(a.stdout, "velocity: %s/%s: deploy of release %s was interrupted by the last stop\n", d.Environment, d.Service, d.Release)
	}
	failed := rec.Wait()
	for _, d := range rec.Restoring {
		if err := failed[d.ID]; err != nil {
			first, _, _ := strings.Cut(err.Error(), "\n")
			fmt.Fprintf(a.stdout, "velocity: %s/%s: release %s did not come back: %s\n", d.Environment, d.Service, d.Release, first)
			continue
		}
		fmt.Fprintf(a.stdout, "velocity: %s/%s: release %s is back\n", d.Environment, d.Service, d.Release)
	}
}

// startProxy starts the proxy on addr, with TLS when tlsConfig is set,
// answering /metrics on its own address. failed is called should it stop
// serving by itself. It returns the proxy's base URL.
func (a *app) startProxy(addr string, tlsConfig *tls.Config, failed func()) (*proxy.Proxy, string, error) {
	reg := prometheus.NewRegistry()
	px := proxy.New(proxy.Options{Registry: reg, Logger: a.log})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		px.Close()
		return nil, "", usageError("proxy address %s: %v (choose another with --proxy-addr)", addr, err)
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	go func() {
		err := px.Serve(ln, proxy.ServeOptions{TLS: tlsConfig, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})})
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("proxy stopped", "err", err)
			failed()
		}
	}()
	return px, fmt.Sprintf("%s://127.0.0.1:%d", scheme, ln.Addr().(*net.TCPAddr).Port), nil
}

// listenPrivate listens on a unix socket only its owner may connect to.
func listenPrivate(path string) (net.Listener, error) {
	if len(path) > 104 {
		return nil, fmt.Errorf("control socket %s: path longer than unix sockets allow; use a shorter --data-dir", path)
	}
	// The umask makes the socket private from its creation, leaving no
	// moment in which another user could connect.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// dialServer returns a client of the data directory's server, or nil when
// none answers.
func (a *app) dialServer(ctx context.Context, h *home) (*server.Client, server.Status) {
	sock := h.socketPath()
	if _, err := os.Stat(sock); err != nil {
		return nil, server.Status{}
	}
	c := server.NewClient(sock)
	st, err := c.Ping(ctx, 3*time.Second)
	if err != nil {
		if !errors.Is(err, server.ErrNoServer) {
			fmt.Fprintf(a.stderr, "velocity: the server at %s does not answer properly (%v); not using it\n", sock, err)
		}
		c.Close()
		return nil, server.Status{}
	}
	return c, st
}

// deployTarget finds what a deploy action deploys: the service and the
// environment it names and the outputs of the service's from action.
func deployTarget(p *spec.Pipeline, d engine.Deploy) (spec.Service, spec.Environment, []store.Output, error) {
	var svc *spec.Service
	for i := range p.Services {
		if p.Services[i].Name == d.Service {
			svc = &p.Services[i]
		}
	}
	var env *spec.Environment
	for i := range p.Environments {
		if p.Environments[i].Name == d.Environment {
			env = &p.Environments[i]
		}
	}
	if svc == nil || env == nil {
		return spec.Service{}, spec.Environment{}, nil, fmt.Errorf("service %q or environment %q is not defined", d.Service, d.Environment)
	}
	stage, action, ok := strings.Cut(svc.From, "/")
	if !ok {
		stage, action = "", svc.From
	}
	var outs []store.Output
	for _, o := range d.Outputs {
		if o.Action == action && (stage == "" || o.Stage == stage) {
			outs = append(outs, o)
		}
	}
	if len(outs) == 0 {
		return spec.Service{}, spec.Environment{}, nil, fmt.Errorf("service %s: action %q produced no outputs in this run", svc.Name, svc.From)
	}
	return *svc, *env, outs, nil
}

// remoteDeployer carries out a run's deploy actions through the server,
// which keeps the services running after the run.
type remoteDeployer struct {
	client   *server.Client
	pipeline *spec.Pipeline
	commit   string
	// replace lets a deploy take over a service live from another project.
	replace bool
	// ports bounds the instances' ports (--port-range, port_range);
	// zero leaves them to the server's range.
	ports netport.Range

	mu   sync.Mutex // deploy actions may run at once
	urls []string   // "ENV/SERVICE (release R): URL", in deploy order
}

// Deploy implements engine.Deployer.
func (r *remoteDeployer) Deploy(ctx context.Context, d engine.Deploy) (string, error) {
	svc, env, outs, err := deployTarget(r.pipeline, d)
	if err != nil {
		return "", err
	}
	res, err := r.client.Deploy(ctx, server.DeployRequest{
		Definition: server.Definition{Service: svc, Environment: env, EnvPassthrough: r.pipeline.EnvPassthrough, Project: r.pipeline.Name,
			PortRange: server.PortRangeOf(r.ports)},
		Release: fmt.Sprintf("r%d", d.RunID), RunID: d.RunID, Commit: r.commit, Files: outs, Replace: r.replace,
	}, d.Log)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.urls = append(r.urls, fmt.Sprintf("%s/%s (release %s): %s", env.Name, svc.Name, res.Release, res.URL))
	return res.URL, nil
}
