// Package docker connects Velocity to a Docker Engine through its API.
//
// Everything that uses containers (the Docker executor, the container
// runtime, image builds) gets its client here, so that the engine is
// found, and its absence explained, the same way everywhere.
package docker

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/moby/moby/client"
)

// pingTimeout bounds the first call to the engine: a socket nobody
// answers on must fail a run in seconds, not hang it.
const pingTimeout = 5 * time.Second

// Connect returns a client of the engine named by DOCKER_HOST (and
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), else the local socket. It checks
// that the engine answers and settles the API version with it, so that
// an engine older than this client (Debian's 20.10 speaks API 1.41) is
// spoken to in its own version.
func Connect(ctx context.Context) (*client.Client, error) {
	c, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		return nil, fmt.Errorf("the Docker Engine at %s does not answer (is dockerd running? DOCKER_HOST names another engine): %w", host(), err)
	}
	return c, nil
}

// host names the engine Connect dials, for messages.
func host() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return client.DefaultDockerHost
}
