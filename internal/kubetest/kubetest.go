// Package kubetest gives tests the Kubernetes cluster named by
// VELOCITY_TEST_KUBECONFIG (.ci/kube/up starts a single-node one and
// prints its kubeconfig's path).
//
// Without a cluster the tests that need one are skipped, except under
// CI=true, where they fail: CI must not pass by running nothing.
package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/kube"
)

// EnvKubeconfig names the variable holding the test cluster's kubeconfig.
const EnvKubeconfig = "VELOCITY_TEST_KUBECONFIG"

// Config returns the path of the test cluster's kubeconfig. Without one
// the test skips, except under CI=true, where a missing cluster is a
// failure.
func Config(t testing.TB) string {
	t.Helper()
	path := os.Getenv(EnvKubeconfig)
	if path == "" {
		const msg = EnvKubeconfig + " is not set: build and start a cluster with " +
			"`.ci/kube/build && export " + EnvKubeconfig + "=$(.ci/kube/up)`"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// Cluster is a cluster's API server and an HTTP client that trusts it and
// authenticates as the kubeconfig's user (by client certificate or token).
type Cluster struct {
	Server string
	HTTP   *http.Client
	token  string
}

// Connect returns the test cluster of Config.
func Connect(t testing.TB) *Cluster {
	t.Helper()
	c, err := Load(Config(t))
	if err != nil {
		t.Fatalf("%s: %v", EnvKubeconfig, err)
	}
	return c
}

// Load reads the current context of the kubeconfig at path (with
// internal/kube's reader, the one Velocity uses).
func Load(path string) (*Cluster, error) {
	cfg, err := kube.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	return &Cluster{
		Server: cfg.Server,
		token:  cfg.Token,
		HTTP: &http.Client{
			Transport: &http.Transport{TLSClientConfig: cfg.TLS},
			Timeout:   30 * time.Second,
		},
	}, nil
}

// Get decodes the JSON the API server returns for path (such as
// /version or /api/v1/nodes) into v.
func (c *Cluster) Get(ctx context.Context, path string, v any) error {
	return c.Do(ctx, http.MethodGet, path, nil, v)
}

// Do sends body (nil, or a value to encode as JSON) with method to path
// and decodes the JSON answer into out unless out is nil. Answers other
// than 2xx are errors holding the server's message.
func (c *Cluster) Do(ctx context.Context, method, path string, body, out any) error {
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Server+path, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Method: method, Path: path, Code: resp.StatusCode, Body: strings.TrimSpace(string(raw))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// StatusError is an answer of the API server other than 2xx.
type StatusError struct {
	Method, Path string
	Code         int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Code, http.StatusText(e.Code), e.Body)
}

// PauseImage is an image every node of the test cluster holds (.ci/kube/up
// imports it as the pods' sandbox image): a container that waits until it
// is stopped. No registry is reachable, so other images must be loaded
// (.ci/kube/load-image) and used with imagePullPolicy: Never.
const PauseImage = "docker.io/velocity-kube/pause:1"

// Namespace creates a namespace for one test, deleted when the test ends,
// and returns its name once pods can be created in it (its default service
// account exists): each test sees only its own objects.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "test-" + hex.EncodeToString(b[:])
	ctx := context.Background()
	ns := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}
	if err := c.Do(ctx, http.MethodPost, "/api/v1/namespaces", ns, nil); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		// Deletion goes on in the background; the test need not wait.
		if err := c.Do(context.Background(), http.MethodDelete, "/api/v1/namespaces/"+name, nil, nil); err != nil {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		var sa struct{}
		err := c.Get(ctx, "/api/v1/namespaces/"+name+"/serviceaccounts/default", &sa)
		if err == nil {
			return name
		}
		var status *StatusError
		if !errors.As(err, &status) || status.Code != http.StatusNotFound || time.Now().After(deadline) {
			t.Fatalf("namespace %s: its default service account: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
