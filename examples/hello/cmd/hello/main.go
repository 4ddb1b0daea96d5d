// Command hello is a small HTTP service used to show a velocity pipeline:
// GET / answers "hello from VERSION", GET /healthz answers "ok".
//
// It listens on $PORT (default 8080; 0 picks a free port, which is logged)
// and shuts down gracefully on SIGTERM or interrupt.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"example.com/hello/internal/web"
)

// version is set at link time: go build -ldflags "-X main.version=1.2.3".
// HELLO_VERSION overrides it at run time.
var version string

// shutdownTimeout bounds how long in-flight requests get to finish after
// SIGTERM; orchestrators usually kill the process not long after.
const shutdownTimeout = 10 * time.Second

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		logger.Error("listen", "err", err)
		os.Exit(1)
	}
	v := web.Version(os.Getenv("HELLO_VERSION"), version)
	logger.Info("listening", "addr", ln.Addr().String(), "version", v)
	if err := serve(ctx, ln, web.New(v, logger), logger); err != nil {
		logger.Error("serve", "err", err)
		os.Exit(1)
	}
}

// serve answers requests on ln until ctx is cancelled, then shuts down
// gracefully: it stops accepting connections and waits for in-flight
// requests, at most shutdownTimeout.
func serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler: h,
		// Bounds slow clients that never finish their headers.
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}
