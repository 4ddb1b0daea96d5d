package releases

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

// DeployTarget is what a run's deploy actions deploy, and how.
type DeployTarget struct {
	Pipeline  *spec.Pipeline
	Commit    string
	Replace   bool            // --replace
	Ports     netport.Range   // --port-range / port_range
	Picker    *netport.Picker // shared with the run's sidecars
	ProxyAddr string          // --proxy-addr; "" = 127.0.0.1:8080
	Log       *slog.Logger
}

// RunDeployer carries out one run's deploys: through the velocity serve
// (or the hosting velocity run) that owns the data directory when there
// is one, else hosted by this process.
type RunDeployer interface {
	engine.Deployer
	// Hosted reports whether this process hosts the deployed services (no
	// other process owned the data directory); URLs lists what was
	// deployed, "ENV/SERVICE (release R): URL".
	Hosted() bool
	URLs() []string
	// Serve keeps hosting after a successful run until ctx ends (velocity
	// run without --no-serve); say prints progress lines. No-op when not
	// Hosted.
	Serve(ctx context.Context, say func(format string, args ...any))
	Close()
}

// Remote is the control API of the process hosting the data directory,
// as its client (server.Client) offers it.
type Remote interface {
	Deploy(ctx context.Context, req DeployRequest, log io.Writer) (DeployResult, error)
	Close()
}

// Deploys gives runs their deployers. Fill the fields, then call ForRun
// once per run that deploys.
type Deploys struct {
	// Host configures the host a run starts when no other process hosts
	// the data directory; ForRun sets its proxy address and ports from
	// the run's DeployTarget.
	Host HostConfig
	// Dial connects to the control API of the data directory's host; it
	// returns nil and no error when none answers.
	Dial func(ctx context.Context) (Remote, error)
	// Publish opens the control API of a host this process runs, so that
	// other commands deploy through it. It returns where it listens and a
	// func that closes it (removing the socket).
	Publish func(ctx context.Context, h *Host) (addr string, stop func(), err error)
	// DialWait is how long ForRun waits for another host's control API
	// to answer when that host holds the data directory but is still
	// starting; zero means 10s.
	DialWait time.Duration
}

// ForRun returns the deployer of one run: a client of the host that owns
// the data directory when one answers, else a host of its own, published
// on the control socket so that later runs deploy through it.
func (d *Deploys) ForRun(ctx context.Context, t DeployTarget) (RunDeployer, error) {
	if r, err := d.Dial(ctx); err != nil || r != nil {
		return d.remote(r, t), err
	}
	cfg := d.Host
	cfg.ProxyAddr, cfg.Picker, cfg.PortRange = cmp.Or(t.ProxyAddr, "127.0.0.1:8080"), t.Picker, t.Ports
	cfg.Name = "velocity run"
	if t.Log != nil {
		cfg.Logger = t.Log
	}
	h, err := Open(cfg)
	if errors.Is(err, ErrHosted) {
		return d.waitForHost(ctx, t)
	}
	if err != nil {
		return nil, err
	}
	if _, err := h.Service().Settle(ctx); err != nil {
		h.Close()
		return nil, err
	}
	addr, stop, err := d.Publish(ctx, h)
	if err != nil {
		h.Close()
		return nil, err
	}
	return &hosted{host: h, target: t, control: addr, stop: stop}, nil
}

// waitForHost dials the host that holds the data directory until it
// answers: it may have taken the lock a moment ago.
func (d *Deploys) waitForHost(ctx context.Context, t DeployTarget) (RunDeployer, error) {
	wait := d.DialWait
	if wait == 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		r, err := d.Dial(ctx)
		if err != nil || r != nil {
			return d.remote(r, t), err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("another velocity serve or velocity run hosts the services of %s but its control API does not answer: %w",
				d.Host.DataDir, ErrHosted)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (d *Deploys) remote(r Remote, t DeployTarget) RunDeployer {
	if r == nil {
		return nil
	}
	return &remote{client: r, target: t}
}

// request is the deploy request of deploy action a of t's run.
func (t DeployTarget) request(a engine.Deploy) (DeployRequest, error) {
	svc, env, outs, err := deployTarget(t.Pipeline, a)
	if err != nil {
		return DeployRequest{}, err
	}
	return DeployRequest{
		Definition: Definition{Service: svc, Environment: env, EnvPassthrough: t.Pipeline.EnvPassthrough, Project: t.Pipeline.Name,
			PortRange: PortRangeOf(t.Ports)},
		Release: fmt.Sprintf("r%d", a.RunID), RunID: a.RunID, Commit: t.Commit, Files: outs, Replace: t.Replace,
	}, nil
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
	if svc.Image != "" {
		// The image is the release.
		return *svc, *env, nil, nil
	}
	if img, ok := engine.ImageOf(d.Images, svc.From); ok {
		// from: names a build action: the release is the image it built
		// in this run, by ID, so that a tag moved later changes nothing.
		s := *svc
		s.Image, s.From = img.ID, ""
		return s, *env, nil, nil
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

// remote carries out a run's deploys through the data directory's host,
// which keeps the services running after the run.
type remote struct {
	client Remote
	target DeployTarget

	mu   sync.Mutex // deploy actions may run at once
	urls []string   // in deploy order
}

func (r *remote) Deploy(ctx context.Context, a engine.Deploy) (string, error) {
	req, err := r.target.request(a)
	if err != nil {
		return "", err
	}
	res, err := r.client.Deploy(ctx, req, a.Log)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.urls = append(r.urls, fmt.Sprintf("%s/%s (release %s): %s", req.Environment.Name, req.Service.Name, res.Release, res.URL))
	return res.URL, nil
}

func (r *remote) Hosted() bool { return false }

func (r *remote) URLs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.urls)
}

func (r *remote) Serve(context.Context, func(string, ...any)) {}

func (r *remote) Close() { r.client.Close() }

// hosted carries out a run's deploys on a host of the run's own, which
// other commands deploy through while the run lasts.
type hosted struct {
	host    *Host
	target  DeployTarget
	control string // where the control API listens
	stop    func()
}

func (h *hosted) Deploy(ctx context.Context, a engine.Deploy) (string, error) {
	req, err := h.target.request(a)
	if err != nil {
		return "", err
	}
	res, err := h.host.Service().Deploy(ctx, req, a.Log)
	if err != nil {
		return "", err
	}
	return res.URL, nil
}

func (h *hosted) Hosted() bool { return true }

func (h *hosted) URLs() []string {
	urls := h.host.Service().Deployer.URLs()
	slices.Sort(urls)
	return urls
}

func (h *hosted) Serve(ctx context.Context, say func(format string, args ...any)) {
	urls := h.URLs()
	if len(urls) == 0 {
		return
	}
	say("velocity: serving through the proxy at %s; press Ctrl-C to stop\n", h.host.ProxyAddr())
	for _, u := range urls {
		say("  %s\n", u)
	}
	say("velocity: other velocity run and rollback commands deploy through this one (control socket %s)\n", h.control)
	<-ctx.Done()
}

// Close stops hosting: the control API first, so that nothing deploys
// to a host going away, then the proxy and the instances.
func (h *hosted) Close() {
	h.stop()
	h.host.Close()
}

// InProcess is the host's own Service as a Remote: runs that the hosting
// process executes itself (started through velocity serve's API) deploy
// to it directly, as other processes' runs do through its control API.
func InProcess(s *Service) Remote { return inProcess{s} }

type inProcess struct{ *Service }

func (inProcess) Close() {}
