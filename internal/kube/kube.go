// Package kube is a small client of the Kubernetes API: what the
// Kubernetes executor needs (namespaced Pods and Secrets created, read,
// watched and deleted as JSON, and a pod's log followed), over net/http
// with the credentials of a kubeconfig (server, certificate authority,
// client certificate and key, or a bearer token).
//
// It is not k8s.io/client-go on purpose. Linking client-go (with k8s.io/api
// and apimachinery) into the velocity binary was measured to add about
// 9 ms of package initialisation (GODEBUG=inittrace=1) to every velocity
// command, whichever it is, and about 30 MB to the binary; the AWS SDK's
// 4 ms had just been removed for the same reason. The few objects used here
// are minimal structs holding only the fields Velocity sets or reads;
// anything else the API server sends is ignored.
//
// Every answer read whole is capped (MaxResponse); a watch or a log stream
// is read as it comes and never held whole.
package kube

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"
)

// MaxResponse caps an answer that is read whole (an object, a list, an
// error): a pod or a list of a run's pods is a few kilobytes.
const MaxResponse = 8 << 20

// Client talks to one API server as one user.
type Client struct {
	server string
	http   *http.Client
	token  string
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
			InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
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
			TokenFile             string `yaml:"tokenFile"`
		} `yaml:"user"`
	} `yaml:"users"`
}

// Load makes a client for the current context of the kubeconfig at path.
// Relative file names in it are relative to its directory, as for kubectl.
func Load(path string) (*Client, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	c := &Client{server: cfg.Server, token: cfg.Token}
	// No overall timeout: watches and log streams last as long as a step.
	// Requests are bounded by their contexts.
	c.http = &http.Client{Transport: &http.Transport{
		TLSClientConfig:     cfg.TLS,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16,
		Proxy:               http.ProxyFromEnvironment,
	}}
	return c, nil
}

// Config is how the current context of a kubeconfig reaches its API
// server: its URL, the TLS settings that trust it and carry the client
// certificate, and the bearer token if any.
type Config struct {
	Server string
	TLS    *tls.Config
	Token  string
}

// LoadConfig reads the current context of the kubeconfig at path.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(raw, &kc); err != nil {
		return Config{}, fmt.Errorf("kubeconfig %s: %w", path, err)
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
		return Config{}, fmt.Errorf("kubeconfig %s: current context %q is not among its contexts", path, kc.CurrentContext)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	server := ""
	for _, c := range kc.Clusters {
		if c.Name != clusterName {
			continue
		}
		server = c.Cluster.Server
		tlsConfig.InsecureSkipVerify = c.Cluster.InsecureSkipTLSVerify
		ca, err := material(base, c.Cluster.CertificateAuthority, c.Cluster.CertificateAuthorityData)
		if err != nil {
			return Config{}, fmt.Errorf("kubeconfig %s: cluster %s: certificate authority: %w", path, c.Name, err)
		}
		if ca != nil {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(ca) {
				return Config{}, fmt.Errorf("kubeconfig %s: cluster %s: no PEM certificate in its certificate authority", path, c.Name)
			}
			tlsConfig.RootCAs = pool
		}
	}
	if server == "" {
		return Config{}, fmt.Errorf("kubeconfig %s: cluster %q has no server", path, clusterName)
	}
	cfg := Config{Server: strings.TrimSuffix(server, "/"), TLS: tlsConfig}
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		cert, err := material(base, u.User.ClientCertificate, u.User.ClientCertificateData)
		if err != nil {
			return Config{}, fmt.Errorf("kubeconfig %s: user %s: client certificate: %w", path, u.Name, err)
		}
		key, err := material(base, u.User.ClientKey, u.User.ClientKeyData)
		if err != nil {
			return Config{}, fmt.Errorf("kubeconfig %s: user %s: client key: %w", path, u.Name, err)
		}
		if cert != nil {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				return Config{}, fmt.Errorf("kubeconfig %s: user %s: %w", path, u.Name, err)
			}
			tlsConfig.Certificates = []tls.Certificate{pair}
		}
		cfg.Token = u.User.Token
		if cfg.Token == "" && u.User.TokenFile != "" {
			b, err := material(base, u.User.TokenFile, "")
			if err != nil {
				return Config{}, fmt.Errorf("kubeconfig %s: user %s: token file: %w", path, u.Name, err)
			}
			cfg.Token = strings.TrimSpace(string(b))
		}
	}
	return cfg, nil
}

// material returns PEM (or a token) held inline (base64, the -data
// fields) or in a file; nil when neither is given.
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

// Server is the API server's URL.
func (c *Client) Server() string { return c.server }

// StatusError is an answer of the API server other than 2xx.
type StatusError struct {
	Method, Path string
	Code         int
	// Message is the Status object's message, or the body as text.
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Code, http.StatusText(e.Code), e.Message)
}

// IsNotFound reports an answer 404: the object does not exist.
func IsNotFound(err error) bool {
	var s *StatusError
	return errors.As(err, &s) && s.Code == http.StatusNotFound
}

// IsConflict reports an answer 409: the object already exists.
func IsConflict(err error) bool {
	var s *StatusError
	return errors.As(err, &s) && s.Code == http.StatusConflict
}

// open sends body (nil, or a value encoded as JSON) and returns the
// response of a 2xx answer; other answers are a *StatusError.
func (c *Client) open(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, reader)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		msg := strings.TrimSpace(string(raw))
		var st struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &st) == nil && st.Message != "" {
			msg = st.Message
		}
		return nil, &StatusError{Method: method, Path: path, Code: resp.StatusCode, Message: msg}
	}
	return resp, nil
}

// Do sends body with method to path and decodes the JSON answer into out
// unless out is nil.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.open(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if len(raw) > MaxResponse {
		return fmt.Errorf("%s %s: answer larger than %d bytes", method, path, MaxResponse)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// Stream sends a GET to path and returns the body as it comes; the caller
// closes it.
func (c *Client) Stream(ctx context.Context, path string) (io.ReadCloser, error) {
	resp, err := c.open(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// apiPath builds an API path with a query.
func apiPath(ns, resource, name string, q url.Values) string {
	p := "/api/v1/namespaces/" + url.PathEscape(ns) + "/" + resource
	if name != "" {
		// A subresource ("NAME/log") keeps its slash.
		p += "/" + (&url.URL{Path: name}).EscapedPath()
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}
