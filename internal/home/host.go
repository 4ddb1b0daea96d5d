package home

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
)

// HostConfig is what every host of the data directory is built from;
// the caller adds the proxy's address and ports.
func (h *Home) HostConfig() (releases.HostConfig, error) {
	blobs, err := artifact.OpenBlobs(h.blobDir())
	if err != nil {
		return releases.HostConfig{}, err
	}
	secrets, err := h.secrets()
	if err != nil {
		return releases.HostConfig{}, err
	}
	cfg := h.hostConfig(blobs, secrets)
	// The server's host: its failed deploys and rollbacks alert.
	cfg.Meter = meters{h.metrics, h.alerts}
	return cfg, nil
}

func (h *Home) hostConfig(blobs *artifact.Blobs, secrets releases.Secrets) releases.HostConfig {
	cfg := releases.HostConfig{
		DataDir: h.Dir, Journal: h.Store, Blobs: blobs, Secrets: secrets,
		Environ: h.cfg.Environ(), Logger: h.cfg.Log, Version: h.cfg.Version, Meter: h.metrics,
	}
	if k := h.cfg.Kubernetes; k != nil {
		// Services with an image run where actions with one do.
		cfg.Kubernetes = &releases.Kubernetes{Namespace: k.Namespace, Kubeconfig: k.Kubeconfig, Images: h.clusterImages()}
	}
	return cfg
}

// deploys gives velocity run its deployer: through the data directory's
// host when one runs, else a host of the run's own that other commands
// deploy through while it lasts, and whose runs (those of runsAPI, the
// service executing the run) they can watch.
func (h *Home) deploys(blobs *artifact.Blobs, secrets releases.Secrets, runsAPI func() *runs.Service) *releases.Deploys {
	return &releases.Deploys{
		Host: h.hostConfig(blobs, secrets),
		Dial: func(ctx context.Context) (releases.Remote, error) {
			if c, _ := h.DialServer(ctx); c != nil {
				return c, nil
			}
			return nil, nil
		},
		Publish: func(ctx context.Context, host *releases.Host) (string, func(), error) {
			return h.Publish(ctx, host, runsAPI(), nil)
		},
	}
}

// Publish serves the control API of host, and of runsAPI when it is not
// nil, on the data directory's socket until the returned func is called;
// shutdown, when set, lets a request stop the process.
func (h *Home) Publish(ctx context.Context, host *releases.Host, runsAPI *runs.Service, shutdown func()) (string, func(), error) {
	srv := h.controlAPI(host, runsAPI, shutdown)
	sock := h.SocketPath()
	// The host's lock is held: a socket file left here is a dead host's.
	os.Remove(sock)
	ln, err := listenPrivate(sock)
	if err != nil {
		return "", nil, err
	}
	api := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go api.Serve(ln)
	stop := func() {
		c, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		api.Shutdown(c)
		os.Remove(sock)
	}
	return sock, stop, nil
}

// controlAPI is the API of host and of runsAPI, when not nil, that the
// control socket and the network listener both serve.
func (h *Home) controlAPI(host *releases.Host, runsAPI *runs.Service, shutdown func()) *server.Server {
	srv := &server.Server{Releases: host.Service(), Logger: h.cfg.Log, Shutdown: shutdown}
	srv.Dora = &server.Dora{Service: h.Dora(), Logger: h.cfg.Log}
	srv.Nodes = &server.Nodes{Service: h.Nodes(), Logger: h.cfg.Log}
	if runsAPI != nil {
		srv.Runs = &server.Runs{Service: runsAPI, Logger: h.cfg.Log, Nodes: h.Nodes(), Self: h.holder}
	}
	return srv
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

// DialServer returns a client of the data directory's server, or nil
// when none answers.
func (h *Home) DialServer(ctx context.Context) (*server.Client, server.Status) {
	sock := h.SocketPath()
	if _, err := os.Stat(sock); err != nil {
		return nil, server.Status{}
	}
	c := server.NewClient(sock)
	st, err := c.Ping(ctx, 3*time.Second)
	if err != nil {
		if !errors.Is(err, server.ErrNoServer) {
			fmt.Fprintf(h.cfg.Stderr, "velocity: the server at %s does not answer properly (%v); not using it\n", sock, err)
		}
		c.Close()
		return nil, server.Status{}
	}
	return c, st
}
