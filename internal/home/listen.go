package home

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
)

// Limits of the network listener.
const (
	// apiRate and apiBurst are each token's requests: a burst of 50
	// covers a person's or a UI page's flurry and a script's catching
	// up, 10 a second sustained is far above what watching runs takes
	// (one request per stream), and a runaway loop is slowed to that.
	apiRate  = 10
	apiBurst = 50
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
}

// Listen serves the control API of host (and of runsAPI when not nil)
// on a TCP address until the returned func is called, every request
// behind a token of the data directory (server.Guard), at most
// apiRate a second per token. It returns the API's base URL.
//
// Timeouts bound slow clients without cutting long answers: headers
// within ReadHeaderTimeout, bodies within bodyTimeout (LimitBodies), an
// idle connection IdleTimeout; no ReadTimeout or WriteTimeout, which
// would end a run's event stream or a deploy's log while it lasts.
func (h *Home) Listen(ctx context.Context, cfg ListenConfig, host *releases.Host, runsAPI *runs.Service, shutdown func()) (string, func(), error) {
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
		Logger:  h.cfg.Log,
	}
	// The guard needs the mux itself, to tell which route a request is
	// for; Handler returns one.
	mux := h.controlAPI(host, runsAPI, shutdown).Handler().(*http.ServeMux)
	handler := server.LimitBodies(guard.Wrap(mux), maxBody, bodyTimeout)
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
	}
	return url, stop, nil
}
