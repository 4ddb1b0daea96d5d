package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/projects"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

type serveOptions struct {
	proxyAddr string
	tlsCert   string
	tlsKey    string
	portRange string
	listen    home.ListenConfig
}

func (a *app) serveCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the team server: projects' runs on every commit, the API and web UI, and the services it deploys",
		Long: `Run the standing server of the data directory: it runs the line of its
projects for every new commit (pushes to its git remote, webhooks, polling,
schedules; see 'velocity project'), hosts the services pipelines deploy
behind its proxy, and serves a control API on the unix socket
DATA/velocity.sock that 'velocity run', 'velocity rollback' and 'velocity
service status' use. With --listen it serves on a TCP address the HTTP API,
the git remote (/git/NAME.git), the container registry (/v2/; see
'velocity registry'), the webhooks (/hooks/…), /metrics and the web UI, where every request needs an API token (see 'velocity token').
Every deploy is journaled first; when the server starts it brings back what
was live, marks deploys that were in progress as interrupted and resumes
the runs it was executing. SIGTERM or Ctrl-C stops it gracefully: requests
in flight finish, then the instances stop.`,
		Args: cobra.NoArgs,
		RunE: a.withHome(func(ctx context.Context, h *home.Home, _ []string) error {
			return a.serve(ctx, h, o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.proxyAddr, "proxy-addr", "", "where the proxy listens (default $VELOCITY_PROXY_ADDR, else 127.0.0.1:8080)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve the proxy with TLS: certificate chain `FILE` (PEM; needs --tls-key)")
	f.StringVar(&o.tlsKey, "tls-key", "", "private key `FILE` of --tls-cert (PEM)")
	f.StringVar(&o.listen.Addr, "listen", "", "serve the API on `ADDR` too (e.g. :8443, 127.0.0.1:0), every request with an API token")
	f.StringVar(&o.listen.TLSCert, "listen-tls-cert", "", "serve the --listen API with TLS: certificate chain `FILE` (PEM; needs --listen-tls-key)")
	f.StringVar(&o.listen.TLSKey, "listen-tls-key", "", "private key `FILE` of --listen-tls-cert (PEM)")
	f.StringVar(&a.store, "store", "", "keep the journal in the PostgreSQL database at `URL` (postgres://USER@HOST/DB) instead of the data directory's SQLite file (default $VELOCITY_STORE)")
	f.StringVar(&a.shared, "shared-dir", "", "keep the projects' mirrors and the blob store in `DIR`, mounted at the same path by every node sharing --store, so that any node accepts pushes and takes over the runs of a dead one (default $VELOCITY_SHARED_DIR)")
	f.StringVar(&a.kubeNamespace, "kube-namespace", "", "run the actions that name an image as pods in Kubernetes namespace `NS` instead of Docker containers; the pods must run on this machine, which holds the workspace (default $VELOCITY_KUBE_NAMESPACE; see docs/kubernetes.md)")
	f.StringVar(&a.kubeconfig, "kubeconfig", "", "the cluster of --kube-namespace: kubeconfig `FILE` (default $KUBECONFIG, else ~/.kube/config)")
	f.DurationVar(&a.leaseTTL, "lease-ttl", 0, "how long this node's runs stay its own once it stops renewing their leases (killed, crashed, cut off): how soon another node takes them over (default 30s)")
	f.StringVar(&o.portRange, "port-range", "", "take the ports of deployed instances from `LOW-HIGH` only, e.g. 41000-41099, unless the deploying project sets its own (port_range, run --port-range)")
	f.Var(sizeFlag{&o.listen.RegistryMaxBlob}, "registry-max-blob", "refuse registry blobs (image layers) over `SIZE`, e.g. 2GB (default 16GiB)")
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

func (a *app) serve(ctx context.Context, h *home.Home, o serveOptions) error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageError("--tls-cert and --tls-key go together")
	}
	if (o.listen.TLSCert == "") != (o.listen.TLSKey == "") {
		return usageError("--listen-tls-cert and --listen-tls-key go together")
	}
	if o.listen.Addr == "" && o.listen.TLSCert != "" {
		return usageError("--listen-tls-cert needs --listen")
	}
	ports, err := servePorts(o.portRange)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	kubeNote, err := h.CheckKubernetes(ctx)
	if err != nil {
		return userError(err)
	}
	cfg, err := h.HostConfig()
	if err != nil {
		return err
	}
	cfg.ProxyAddr, cfg.TLSCert, cfg.TLSKey, cfg.PortRange, cfg.Failed = a.proxyAddr(o.proxyAddr), o.tlsCert, o.tlsKey, ports, cancel
	cfg.Name = "velocity serve"
	// One host per data directory: velocity serve, or a velocity run
	// serving what it deployed.
	host, err := releases.Open(cfg)
	if errors.Is(err, releases.ErrHosted) {
		return fmt.Errorf("velocity serve (or a velocity run serving what it deployed) already runs for %s (control socket %s)", h.Dir, h.SocketPath())
	}
	if err != nil {
		return userError(err)
	}
	defer host.Close()
	// Said at every start, enforced or not: the services this server will
	// host are not known yet, and whoever deploys through it never sees
	// the runtime's probe otherwise.
	_, limitsNote := host.Limits()
	rec, err := host.Service().Recover(ctx)
	if err != nil {
		return err
	}
	// Runs started through the API execute here and deploy to this host.
	runsSvc, err := h.RunsFor(ctx, host)
	if err != nil {
		return err
	}
	sock, stopAPI, err := h.Publish(ctx, host, runsSvc, cancel)
	if err != nil {
		return err
	}
	defer stopAPI()
	projectsSvc, stopProjects, err := a.serveProjects(ctx, h, runsSvc)
	if err != nil {
		return err
	}
	defer stopProjects()
	apiURL, stopNet, err := a.listen(ctx, h, o.listen, host, runsSvc, projectsSvc, cancel)
	if err != nil {
		return err
	}
	defer stopNet()

	fmt.Fprintf(a.stdout, "velocity: serving; proxy at %s, control socket %s (Ctrl-C to stop)\n", host.ProxyURL(), sock)
	a.sayNotes(limitsNote, kubeNote)
	if apiURL != "" {
		a.sayListening(ctx, h, o.listen, apiURL)
	}
	go a.reportRecovery(rec)
	a.resumeRuns(ctx, h, runsSvc)
	a.resumeWorkflows(ctx, h)
	a.serveNode(ctx, h, runsSvc, apiURL) // until ctx ends
	fmt.Fprintf(a.stdout, "velocity: stopping: draining the proxy, then stopping the services\n")
	return nil
}

// servePorts reads --port-range; "" is any free port.
func servePorts(spec string) (netport.Range, error) {
	if spec == "" {
		return netport.Range{}, nil
	}
	ports, err := netport.Parse(spec, "velocity serve --port-range")
	if err != nil {
		return netport.Range{}, usageError("--port-range: %v", err)
	}
	return ports, nil
}

// sayNotes prints what serve found at its start about where services
// run; an empty note is not printed.
func (a *app) sayNotes(notes ...string) {
	for _, n := range notes {
		if n != "" {
			fmt.Fprintf(a.stdout, "velocity: %s\n", n)
		}
	}
}

// serveProjects runs the projects' queues, polling and schedules, which
// start runs here too, until the returned func is called.
func (a *app) serveProjects(ctx context.Context, h *home.Home, runsSvc *runs.Service) (*projects.Service, func(), error) {
	svc, _, err := h.Projects(runsSvc)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Run(ctx)
	}()
	return svc, func() { cancel(); <-done }, nil
}

// listen serves the API on the network when --listen asks so; the URL
// is "" when it does not.
func (a *app) listen(ctx context.Context, h *home.Home, cfg home.ListenConfig, host *releases.Host, runsSvc *runs.Service, projectsSvc *projects.Service, shutdown func()) (string, func(), error) {
	if cfg.Addr == "" {
		return "", func() {}, nil
	}
	url, stop, err := h.Listen(ctx, cfg, host, runsSvc, projectsSvc, shutdown)
	if err != nil {
		return "", nil, userError(err)
	}
	// The listener serves the container registry: what pushes leave
	// behind is collected while it serves.
	a.collectRegistry(ctx, h)
	return url, stop, nil
}

// sayListening tells where the API listens and, while no admin token
// exists, how to make the first one: on this machine, with no token. It
// is one write, so that whoever watches for the address sees it all.
func (a *app) sayListening(ctx context.Context, h *home.Home, cfg home.ListenConfig, url string) {
	var b strings.Builder
	fmt.Fprintf(&b, "velocity: API at %s; every request needs an API token (Authorization: Bearer TOKEN)\n", url)
	if cfg.TLSCert == "" && !loopback(cfg.Addr) {
		fmt.Fprintf(&b, "velocity: the API is plain HTTP: tokens cross the network readable; give it --listen-tls-cert and --listen-tls-key\n")
	}
	if !a.hasAdmin(ctx, h) {
		fmt.Fprintf(&b, "velocity: no admin token yet: make one with 'velocity token create NAME --role admin' on this machine\n")
	}
	io.WriteString(a.stdout, b.String())
}

// hasAdmin says whether a token may administer the server; when the
// tokens cannot be read it says so, and the hint is given.
func (a *app) hasAdmin(ctx context.Context, h *home.Home) bool {
	tokens, err := h.Access().List(ctx)
	if err != nil {
		fmt.Fprintf(a.stderr, "velocity: listing API tokens: %v\n", err)
		return false
	}
	for _, t := range tokens {
		if t.Role == access.Admin && t.Revoked.IsZero() {
			return true
		}
	}
	return false
}

// loopback says whether addr only listens on this machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// resumeWorkflows gets workflow executions whose process died going again
// when the server starts, as every workflow command does. They run in a
// process of their own, so stopping the server does not interrupt them.
func (a *app) resumeWorkflows(ctx context.Context, h *home.Home) {
	svc := h.Executions(ctx)
	defer svc.Close()
	svc.ResumeInBackground(ctx)
}

// resumeRuns starts again the runs this server was executing when it
// died, saying so.
func (a *app) resumeRuns(ctx context.Context, h *home.Home, svc *runs.Service) {
	for _, r := range h.ResumeRuns(ctx, svc) {
		if r.Err != nil {
			fmt.Fprintf(a.stdout, "velocity: run %d was interrupted by the last stop and is not resumed: %v\n", r.From, r.Err)
			continue
		}
		fmt.Fprintf(a.stdout, "velocity: run %d was interrupted by the last stop; resuming it as run %d\n", r.From, r.As)
	}
}

// reportRecovery says what the journal held when the server started,
// once the live releases are back.
func (a *app) reportRecovery(rec *releases.Recovery) {
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

// serveNode is this node among the nodes sharing the store (see
// takeOver) until ctx ends; then it removes the node from the list: a
// node that stops says so, one killed is known by its silence.
func (a *app) serveNode(ctx context.Context, h *home.Home, svc *runs.Service, apiURL string) {
	a.takeOver(ctx, h, svc, apiURL)
	if err := h.Nodes().Leave(context.WithoutCancel(ctx), h.NodeID()); err != nil {
		a.log.Warn("removing this node from the nodes", "err", err)
	}
}

// takeOver reports this node to the others (see 'velocity nodes') and
// looks for runs and workflow executions whose node died (their leases
// expired), resuming here those of projects and the executions and
// saying so, now and then until ctx ends. A node of its own finds none:
// its dead runs were settled when it started, its executions are
// resumed through their lock files. The executions taken over run in
// this process: when it stops they stay resumable, for another node or
// the next start.
func (a *app) takeOver(ctx context.Context, h *home.Home, svc *runs.Service, apiURL string) {
	t := time.NewTicker(h.TakeOverEvery())
	defer t.Stop()
	wf := h.Executions(ctx)
	defer func() {
		wf.Abandon()
		wf.Close()
	}()
	started := time.Now()
	for {
		if err := h.Heartbeat(ctx, svc, apiURL, started); err != nil && ctx.Err() == nil {
			a.log.Warn("reporting this node to the others", "err", err)
		}
		resumed, err := h.TakeOver(ctx, svc)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("looking for runs of dead nodes", "err", err)
		}
		for _, r := range resumed {
			if r.Err != nil {
				fmt.Fprintf(a.stdout, "velocity: run %d lost its node and is not resumed here: %v\n", r.From, r.Err)
				continue
			}
			fmt.Fprintf(a.stdout, "velocity: run %d lost its node; taken over as run %d\n", r.From, r.As)
		}
		_, err = wf.TakeOverExpired(ctx, func(e store.Execution) {
			fmt.Fprintf(a.stdout, "velocity: workflow execution %s lost its node; taken over here\n", e.Name)
		})
		if err != nil && ctx.Err() == nil {
			a.log.Warn("looking for workflow executions of dead nodes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
