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
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
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

// kubeconfig is the part of a kubeconfig file this package reads.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Contexts       []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	} `yaml:"contexts"`
	Clusters []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server                   string `yaml:"server"`
			CertificateAuthority     string `yaml:"certificate-authority"`
			CertificateAuthorityData string `yaml:"certificate-authority-data"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			ClientCertificate     string `yaml:"client-certificate"`
			ClientCertificateData string `yaml:"client-certificate-data"`
			ClientKey             string `yaml:"client-key"`
			ClientKeyData         string `yaml:"client-key-data"`
			Token                 string `yaml:"token"`
		} `yaml:"user"`
	} `yaml:"users"`
}

// Load reads the current context of the kubeconfig at path. Relative
// file names in it are relative to its directory, as for kubectl.
func Load(path string) (*Cluster, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(raw, &kc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	base := filepath.Dir(path)
	var clusterName, userName string
	found := false
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			clusterName, userName, found = c.Context.Cluster, c.Context.User, true
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: current context %q is not among its contexts", path, kc.CurrentContext)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	server := ""
	for _, c := range kc.Clusters {
		if c.Name != clusterName {
			continue
		}
		server = c.Cluster.Server
		ca, err := material(base, c.Cluster.CertificateAuthority, c.Cluster.CertificateAuthorityData)
		if err != nil {
			return nil, fmt.Errorf("%s: cluster %s: certificate authority: %w", path, c.Name, err)
		}
		if ca != nil {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(ca) {
				return nil, fmt.Errorf("%s: cluster %s: no PEM certificate in its certificate authority", path, c.Name)
			}
			tlsConfig.RootCAs = pool
		}
	}
	if server == "" {
		return nil, fmt.Errorf("%s: cluster %q has no server", path, clusterName)
	}
	cluster := &Cluster{Server: strings.TrimSuffix(server, "/")}
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		cert, err := material(base, u.User.ClientCertificate, u.User.ClientCertificateData)
		if err != nil {
			return nil, fmt.Errorf("%s: user %s: client certificate: %w", path, u.Name, err)
		}
		key, err := material(base, u.User.ClientKey, u.User.ClientKeyData)
		if err != nil {
			return nil, fmt.Errorf("%s: user %s: client key: %w", path, u.Name, err)
		}
		if cert != nil {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("%s: user %s: %w", path, u.Name, err)
			}
			tlsConfig.Certificates = []tls.Certificate{pair}
		}
		cluster.token = u.User.Token
	}
	cluster.HTTP = &http.Client{
		Transport: &http.Transport{TLSClientConfig: tlsConfig},
		Timeout:   30 * time.Second,
	}
	return cluster, nil
}

// material returns PEM held inline (base64, the -data fields) or in a
// file; nil when neither is given.
func material(base, file, data string) ([]byte, error) {
	if data != "" {
		return base64.StdEncoding.DecodeString(data)
	}
	if file == "" {
		return nil, nil
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(base, file)
	}
	return os.ReadFile(file)
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
