package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
)

// hostConfig is what every host of the data directory is built from;
// the caller adds the proxy's address and ports.
func (a *app) hostConfig(h *home, blobs *artifact.Blobs, secrets releases.Secrets) releases.HostConfig {
	return releases.HostConfig{
		DataDir: h.dir, Journal: h.store, Blobs: blobs, Secrets: secrets,
		Environ: a.environ(), Logger: a.log, Version: Version,
	}
}

// deploys gives velocity run its deployer: through the data directory's
// host when one runs, else a host of the run's own that other commands
// deploy through while it lasts.
func (a *app) deploys(h *home, blobs *artifact.Blobs, secrets releases.Secrets) *releases.Deploys {
	return &releases.Deploys{
		Host: a.hostConfig(h, blobs, secrets),
		Dial: func(ctx context.Context) (releases.Remote, error) {
			if c, _ := a.dialServer(ctx, h); c != nil {
				return c, nil
			}
			return nil, nil
		},
		Publish: func(ctx context.Context, host *releases.Host) (string, func(), error) {
			return a.publish(ctx, h, host, nil, nil)
		},
	}
}

// publish serves the control API of host on the data directory's socket
// until the returned func is called; shutdown, when set, lets a request
// stop the process.
func (a *app) publish(ctx context.Context, h *home, host *releases.Host, runsAPI *runs.Service, shutdown func()) (string, func(), error) {
	srv := &server.Server{Releases: host.Service(), Logger: a.log, Shutdown: shutdown}
	if runsAPI != nil {
		srv.Runs = &server.Runs{Service: runsAPI, Logger: a.log}
	}
	sock := h.socketPath()
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

// userError makes an error of the releases service a usage error (exit
// 2) when the user named something wrong or missing.
func userError(err error) error {
	// A client's errors answer to the same classes (server.Error.Is).
	if errors.Is(err, releases.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
		return usageError("%v", err)
	}
	return err
}
