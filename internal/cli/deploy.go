package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/proxy"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/spec"
)

// host runs what deploys need inside `velocity run`: the runtime, the
// proxy listening on --proxy-addr, and the deployer.
type host struct {
	pipeline *spec.Pipeline
	deployer *deploy.Deployer
	runtime  *runtime.Local
	secrets  engine.Secrets
	baseEnv  []string
	addr     string
}

// startHost starts the runtime and the proxy for a pipeline that deploys.
func (a *app) startHost(p *spec.Pipeline, h *home, blobs *artifact.Blobs, secrets engine.Secrets, addr string, ports *netport.Picker, portRange netport.Range, log *slog.Logger) (*host, error) {
	rt, err := runtime.NewLocal(runtime.Config{Logger: log, Ports: ports, PortRange: portRange})
	if err != nil {
		return nil, err
	}
	if ok, note := rt.Limits(); !ok && hasLimits(p) {
		fmt.Fprintf(a.stderr, "velocity: %s\n", note)
	}
	reg := prometheus.NewRegistry()
	px := proxy.New(proxy.Options{Registry: reg, Logger: log})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		rt.Close(context.Background())
		return nil, usageError("proxy address %s: %v (choose another with --proxy-addr)", addr, err)
	}
	// /metrics on the proxy's own address (no service host) is Prometheus's.
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	go func() {
		if err := px.Serve(ln, proxy.ServeOptions{Metrics: metrics}); !errors.Is(err, http.ErrServerClosed) {
			log.Error("proxy stopped serving", "addr", ln.Addr().String(), "err", err)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	return &host{
		pipeline: p,
		runtime:  rt,
		secrets:  secrets,
		addr:     ln.Addr().String(),
		baseEnv:  engine.HostEnv(a.environ(), p.EnvPassthrough),
		deployer: &deploy.Deployer{
			Runtime:  rt,
			Proxy:    px,
			Blobs:    blobs,
			Dir:      h.dir + "/releases",
			ProxyURL: fmt.Sprintf("http://127.0.0.1:%d", port),
			Logger:   log,
		},
	}, nil
}

func hasLimits(p *spec.Pipeline) bool {
	for _, s := range p.Services {
		if s.Memory > 0 || s.CPU > 0 {
			return true
		}
	}
	return false
}

// Deploy implements engine.Deployer.
func (h *host) Deploy(ctx context.Context, d engine.Deploy) (string, error) {
	svc, env, outs, err := deployTarget(h.pipeline, d)
	if err != nil {
		return "", err
	}
	files, err := engine.OutputFiles(outs)
	if err != nil {
		return "", err
	}
	env0 := append([]string(nil), h.baseEnv...)
	for _, name := range svc.Secrets {
		v, err := h.secrets.Get(name)
		if err != nil {
			return "", fmt.Errorf("secret %s: %w", name, err)
		}
		env0 = append(env0, name+"="+string(v))
	}
	res, err := h.deployer.Deploy(ctx, deploy.Request{
		Service: svc, Environment: env, Release: fmt.Sprintf("r%d", d.RunID),
		Files: files, Env: env0, Log: d.Log,
	})
	if err != nil {
		return "", err
	}
	return res.URL, nil
}

// serve keeps the deployed services up until ctx ends (Ctrl-C).
func (h *host) serve(ctx context.Context, say func(string, ...any)) {
	urls := h.deployer.URLs()
	if len(urls) == 0 {
		return
	}
	say("velocity: serving through the proxy at %s; press Ctrl-C to stop\n", h.addr)
	for _, u := range urls {
		say("  %s\n", u)
	}
	<-ctx.Done()
}

// close stops every instance and the proxy.
func (h *host) close() {
	h.deployer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.deployer.Proxy.Shutdown(ctx) // closes what is left open at the deadline
	h.runtime.Close(ctx)
}
