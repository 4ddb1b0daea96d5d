package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
)

// Client talks to a server: over its control socket, or over the
// network with a token (NewRemoteClient).
type Client struct {
	socket string
	http   *http.Client
	// base is what the API's paths are appended to.
	base string
	// token is sent as a bearer token; "" sends none. It is kept out
	// of every error and log line.
	token string
}

// NewClient returns a client of the server listening on the unix socket
// at path. It does not connect until the first request.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	return &Client{socket: path, http: &http.Client{Transport: tr}, base: "http://velocity"}
}

// NewRemoteClient returns a client of the server whose API is at base (an
// http or https URL, as 'velocity serve --listen' prints it), sending
// token with every request. It does not connect until the first
// request. Errors: fault.Invalid for a base that is no such URL.
func NewRemoteClient(base, token string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fault.Invalidf("%q is not the URL of a velocity server (http://HOST:PORT or https://HOST:PORT)", base)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// An answer's headers come within this or the server is stuck; the
	// bodies (event streams) may last as long as their runs.
	tr.ResponseHeaderTimeout = time.Minute
	return &Client{socket: u.Redacted(), http: &http.Client{Transport: tr}, base: strings.TrimSuffix(u.String(), "/"), token: token}, nil
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// ErrNoServer is wrapped by Ping when nothing answers on the socket.
var ErrNoServer = errors.New("no server")

// Ping asks the server for its status within timeout; an error wrapping
// ErrNoServer means no server runs on the socket (a stale socket file of a
// killed server counts as none).
func (c *Client) Ping(ctx context.Context, timeout time.Duration) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := c.Status(ctx)
	var ue *url.Error
	if err != nil && errors.As(err, &ue) {
		return st, fmt.Errorf("%s: %w (%v)", c.socket, ErrNoServer, err)
	}
	return st, err
}

// Status returns what the server runs.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, pathStatus, nil, &st)
	return st, err
}

// Releases lists the deployments of service in env, newest first.
func (c *Client) Releases(ctx context.Context, env, service string) ([]Release, error) {
	var out []Release
	q := url.Values{"environment": {env}, "service": {service}}
	err := c.do(ctx, http.MethodGet, pathReleases+"?"+q.Encode(), nil, &out)
	return out, err
}

// Shutdown asks the server to stop its services and exit.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, pathShutdown, struct{}{}, nil)
}

// Deploy deploys a release, writing its progress lines to log as they come.
func (c *Client) Deploy(ctx context.Context, req DeployRequest, log io.Writer) (DeployResult, error) {
	return c.stream(ctx, pathDeploy, req, log)
}

// Rollback puts an earlier release back, writing progress lines to log.
func (c *Client) Rollback(ctx context.Context, req RollbackRequest, log io.Writer) (DeployResult, error) {
	return c.stream(ctx, pathRollback, req, log)
}

func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var eb errorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = fmt.Sprintf("velocity serve answered %s", resp.Status)
		}
		return nil, &Error{Code: resp.StatusCode, Message: eb.Error}
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("answer of velocity serve to %s: %w", path, err)
	}
	return nil
}

func (c *Client) stream(ctx context.Context, path string, body any, log io.Writer) (DeployResult, error) {
	resp, err := c.send(ctx, http.MethodPost, path, body)
	if err != nil {
		return DeployResult{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return DeployResult{}, fmt.Errorf("answer of velocity serve: %w", err)
		}
		switch {
		case ev.Result != nil:
			return *ev.Result, nil
		case ev.Error != "":
			return DeployResult{}, errors.New(ev.Error)
		case log != nil:
			io.WriteString(log, ev.Log)
		}
	}
	if err := sc.Err(); err != nil {
		return DeployResult{}, fmt.Errorf("velocity serve: %w", err)
	}
	return DeployResult{}, errors.New("velocity serve ended the answer without an outcome (did it stop?)")
}
