package releases

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	pods "github.com/velocity-ci/velocity/internal/runtime/kube"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/proxy"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/store"
)

// HostConfig is what a host is built from.
type HostConfig struct {
	// DataDir is the data directory: its lock file, the release
	// directories under releases/.
	DataDir string
	Journal store.Deployments
	Blobs   *artifact.Blobs
	Secrets Secrets
	// Environ is the host process's environment; instances get the
	// variables a pipeline's env_passthrough names.
	Environ []string
	// ProxyAddr is where the proxy listens, "127.0.0.1:8080" say.
	ProxyAddr string
	// TLSCert and TLSKey, both set, serve the proxy with TLS (PEM files).
	TLSCert, TLSKey string
	// PortRange bounds the instances' ports unless a deploy sets its own.
	PortRange netport.Range
	// Picker hands out ports; shared with a run's sidecars. nil: own one.
	Picker *netport.Picker
	// Failed is called should the proxy stop serving by itself.
	Failed func()
	// Name names the hosting command in Status ("velocity serve").
	Name    string
	Logger  *slog.Logger
	Version string
	// Meter, when set, is told how each deploy and rollback ended.
	Meter Meter
	// Kubernetes, when set, runs the instances of services with an image
	// as pods of its cluster rather than as Docker containers.
	Kubernetes *Kubernetes
}

// Kubernetes names the cluster and namespace service instances with an
// image run in.
type Kubernetes struct {
	// Namespace holds the pods and their secrets; it must exist.
	Namespace string
	// Kubeconfig is the file naming the cluster and the credentials.
	Kubeconfig string
	// Images makes the images Velocity built pullable by the cluster;
	// nil leaves every image name as written.
	Images pods.Images
}

// Host runs the services deployed in a data directory: the runtime
// supervising the instances, the proxy in front of them and the
// deployer's rollouts, with the Service that journals every deploy. At
// most one process hosts a data directory at a time.
type Host struct {
	service  *Service
	runtime  *runtimes
	proxy    *proxy.Proxy
	lock     *lockfile.Lock
	proxyURL string
	// metrics holds the proxy's collectors.
	metrics *prometheus.Registry
}

// LockPath is the lock file held by the process hosting dataDir.
func LockPath(dataDir string) string { return filepath.Join(dataDir, "serve.lock") }

// Open starts a host for cfg.DataDir. It fails with ErrHosted when
// another process hosts it already, and with ErrInvalid when the proxy
// cannot listen where asked or the TLS files do not load.
func Open(cfg HostConfig) (*Host, error) {
	var tlsConfig *tls.Config
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		var err error
		if tlsConfig, err = proxy.LoadTLSConfig(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, fault.Invalidf("%v", err)
		}
	}
	// The lock is held for the process's life and released by the kernel
	// however it ends, so a socket file found while holding it is a dead
	// host's.
	lock, err := lockfile.Acquire(LockPath(cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.DataDir, ErrHosted)
	}
	h := &Host{lock: lock}
	if err := h.start(cfg, tlsConfig); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func (h *Host) start(cfg HostConfig, tlsConfig *tls.Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// One picker for both runtimes, so that a host process and a
	// container never get the same port.
	picker := cfg.Picker
	if picker == nil {
		picker = &netport.Picker{}
	}
	rt, err := runtime.NewLocal(runtime.Config{Logger: log, Ports: picker, PortRange: cfg.PortRange})
	if err != nil {
		return err
	}
	h.runtime = newRuntimes(rt, cfg.DataDir, log, picker, cfg.PortRange, cfg.Kubernetes)
	reg := prometheus.NewRegistry()
	h.metrics = reg
	h.proxy = proxy.New(proxy.Options{Registry: reg, Logger: log})
	ln, err := net.Listen("tcp", cfg.ProxyAddr)
	if err != nil {
		return fault.Invalidf("proxy address %s: %v (choose another with --proxy-addr)", cfg.ProxyAddr, err)
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	// /metrics on the proxy's own address (no service host) is Prometheus's.
	opts := proxy.ServeOptions{TLS: tlsConfig, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	go func() {
		if err := h.proxy.Serve(ln, opts); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("proxy stopped serving", "addr", ln.Addr().String(), "err", err)
			if cfg.Failed != nil {
				cfg.Failed()
			}
		}
	}()
	h.proxyURL = fmt.Sprintf("%s://127.0.0.1:%d", scheme, ln.Addr().(*net.TCPAddr).Port)
	environ := cfg.Environ
	h.service = &Service{
		Deployer: &deploy.Deployer{
			Runtime: h.runtime, Proxy: h.proxy, Blobs: cfg.Blobs, Dir: filepath.Join(cfg.DataDir, "releases"),
			ProxyURL: h.proxyURL, Logger: log,
		},
		Images: h.runtime, Journal: cfg.Journal, Secrets: cfg.Secrets, Logger: log, Version: cfg.Version, Name: cfg.Name, Meter: cfg.Meter,
		Env: func(passthrough []string, image bool) []string {
			if image {
				return engine.PassEnv(environ, passthrough)
			}
			return engine.HostEnv(environ, passthrough)
		},
	}
	return nil
}

// Metrics gathers the proxy's metrics (requests, latency and requests in
// flight per environment, service and release), for a server's /metrics.
func (h *Host) Metrics() prometheus.Gatherer { return h.metrics }

// Service is the host's deploy service.
func (h *Host) Service() *Service { return h.service }

// ProxyURL is where the proxy listens ("http://127.0.0.1:8080").
func (h *Host) ProxyURL() string { return h.proxyURL }

// ProxyAddr is the proxy's host:port.
func (h *Host) ProxyAddr() string {
	_, addr, _ := strings.Cut(h.proxyURL, "://")
	return addr
}

// Limits reports whether the runtime of host processes enforces memory
// and CPU limits, and a note saying so; Docker enforces them for
// services with an image.
func (h *Host) Limits() (bool, string) { return h.runtime.local.Limits() }

// Close stops hosting: requests in flight through the proxy finish (up
// to a deadline), then the instances stop and the lock is released.
func (h *Host) Close() {
	if h.proxy != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := h.proxy.Shutdown(ctx); err != nil && h.service != nil {
			h.service.log().Warn("proxy shutdown", "err", err)
		}
		cancel()
	}
	if h.service != nil {
		h.service.Deployer.Close()
	}
	if h.proxy != nil {
		h.proxy.Close()
	}
	if h.runtime != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		h.runtime.Close(ctx)
		cancel()
	}
	h.lock.Release()
}
