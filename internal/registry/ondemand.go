package registry

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Endpoint is a registry a client may push to and pull from: its
// address ("127.0.0.1:PORT", which Docker trusts over plain HTTP) and the
// credential it accepts (HTTP basic auth, what docker login sends).
type Endpoint struct {
	Host     string
	Username string
	Password string
	// PullPassword is a second password, good for pulls only (GET and
	// HEAD): what a cluster's nodes are given.
	PullPassword string
}

// LogValue keeps the password out of logs.
func (e Endpoint) LogValue() slog.Value {
	return slog.GroupValue(slog.String("host", e.Host), slog.String("username", e.Username))
}

// OnDemand serves a Storage on a loopback port, for a process that
// needs a registry only now and then (velocity run building an image):
// the port opens on the first call to Endpoint, never when no one asks,
// and closes with Close. The credential is made when the port opens and
// lives only in memory: no stored token grants it, and it dies with the
// process. Safe for concurrent use.
type OnDemand struct {
	Storage *Storage
	Log     *slog.Logger

	mu     sync.Mutex
	ep     Endpoint
	srv    *http.Server
	closed bool
}

// onDemandUser is the user name of an on-demand endpoint's credential;
// only the password is checked.
const onDemandUser = "velocity"

// Endpoint returns the endpoint, opening its port on the first call.
func (o *OnDemand) Endpoint(ctx context.Context) (Endpoint, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return Endpoint{}, errors.New("registry: the on-demand registry is closed")
	}
	if o.srv != nil {
		return o.ep, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return Endpoint{}, fmt.Errorf("registry: %w", err)
	}
	var b [24]byte
	rand.Read(b[:])
	var pb [24]byte
	rand.Read(pb[:])
	ep := Endpoint{Host: ln.Addr().String(), Username: onDemandUser, Password: hex.EncodeToString(b[:]), PullPassword: hex.EncodeToString(pb[:])}
	h := &Handler{Storage: o.Storage, Log: o.Log}
	o.srv = &http.Server{
		Handler:           withPassword(ep.Password, ep.PullPassword, h),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go o.srv.Serve(ln)
	o.ep = ep
	return ep, nil
}

// Close closes the port, if it was opened; Endpoint fails from then on.
func (o *OnDemand) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	if o.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.srv.Shutdown(ctx); err != nil {
		return o.srv.Close()
	}
	return nil
}

// withPassword lets through to h only the requests that present
// password, as basic auth's password (any user name) or a bearer token,
// and the pulls (GET, HEAD) that present pull.
func withPassword(password, pull string, h http.Handler) http.Handler {
	want, wantPull := []byte(password), []byte(pull)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := ""
		if scheme, rest, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			got = strings.TrimSpace(rest)
		} else if _, p, ok := r.BasicAuth(); ok {
			got = p
		}
		reads := r.Method == http.MethodGet || r.Method == http.MethodHead
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 &&
			!(reads && len(wantPull) > 0 && subtle.ConstantTimeCompare([]byte(got), wantPull) == 1) {
			Refuse(w, http.StatusUnauthorized, errors.New("this registry wants the credential of its endpoint"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
