package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// The endpoints that hand out a role's temporary credentials to the
// programs of a container (ECS, EKS Pod Identity) or of an EC2 instance.
const (
	containerEndpoint = "http://169.254.170.2"
	imdsEndpoint      = "http://169.254.169.254"
	// metadataTimeout bounds each request to these endpoints: they are
	// on the host, and a machine without them (a laptop) has to learn it
	// quickly.
	metadataTimeout = time.Second
	// maxMetadataResponse bounds what is read from them.
	maxMetadataResponse = 64 << 10
	imdsTokenTTL        = "21600"
)

// metadataClient talks to the endpoints directly: they are local to the
// host, and a proxy from HTTP_PROXY would see the tokens.
func metadataClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return &http.Client{Transport: t, Timeout: metadataTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// metadataCredentials is the credentials document both endpoints give.
type metadataCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	Token           string
	Expiration      string
}

// decode checks a credentials document. Its content is never put in
// errors: it holds the secret.
func (m metadataCredentials) decode(body []byte, source string) (credentials, time.Time, error) {
	if err := json.Unmarshal(body, &m); err != nil {
		return credentials{}, time.Time{}, fmt.Errorf("%s: the credentials are not a JSON document", source)
	}
	if m.AccessKeyID == "" || m.SecretAccessKey == "" {
		return credentials{}, time.Time{}, fmt.Errorf("%s: the credentials have no AccessKeyId or SecretAccessKey", source)
	}
	var expires time.Time
	if m.Expiration != "" {
		t, err := time.Parse(time.RFC3339, m.Expiration)
		if err != nil {
			return credentials{}, time.Time{}, fmt.Errorf("%s: the credentials' Expiration %q is not an RFC 3339 time", source, m.Expiration)
		}
		expires = t
	}
	return credentials{AccessKeyID: m.AccessKeyID, SecretAccessKey: m.SecretAccessKey, SessionToken: m.Token}, expires, nil
}

// metadataGet makes one request and returns the body of a 200 response.
func metadataGet(ctx context.Context, hc *http.Client, method, u string, header http.Header, source string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	req.Header = header
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataResponse+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read the response: %w", source, err)
	}
	if len(b) > maxMetadataResponse {
		return nil, fmt.Errorf("%s: the response is larger than %d bytes", source, maxMetadataResponse)
	}
	if resp.StatusCode != http.StatusOK {
		// The body is left out: it may echo the request's token.
		return nil, fmt.Errorf("%s: %s %s answered %s", source, method, req.URL.Path, resp.Status)
	}
	return b, nil
}

// containerSource fetches credentials from the container credentials
// endpoint, as the AWS SDKs do:
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is a path on
// http://169.254.170.2 (ECS), else AWS_CONTAINER_CREDENTIALS_FULL_URI is
// a whole URL (EKS Pod Identity, local emulators) and its Authorization
// header is the content of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read
// at each fetch: it is rotated), else AWS_CONTAINER_AUTHORIZATION_TOKEN.
// It returns ok false when neither variable is set, and an error for a
// FULL_URI the SDKs refuse too.
func containerSource(getenv func(string) string, base string) (fetch func(context.Context) (credentials, time.Time, error), ok bool, err error) {
	var u string
	if rel := getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		u = base + rel
	} else if full := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full != "" {
		if err := allowedContainerURL(full); err != nil {
			return nil, true, err
		}
		u = full
	} else {
		return nil, false, nil
	}
	const source = "the container credentials endpoint"
	tokenFile, token := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	hc := metadataClient()
	return func(ctx context.Context) (credentials, time.Time, error) {
		h := http.Header{"Accept": {"application/json"}}
		auth := token
		if tokenFile != "" {
			b, err := os.ReadFile(tokenFile)
			if err != nil {
				return credentials{}, time.Time{}, fmt.Errorf("%s: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %w", source, err)
			}
			auth = strings.TrimSpace(string(b))
		}
		if strings.ContainsAny(auth, "\r\n") {
			return credentials{}, time.Time{}, fmt.Errorf("%s: the authorization token has a line break", source)
		}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		b, err := metadataGet(ctx, hc, http.MethodGet, u, h, source)
		if err != nil {
			return credentials{}, time.Time{}, err
		}
		return metadataCredentials{}.decode(b, source)
	}, true, nil
}

// allowedContainerURL is the SDKs' rule for a FULL_URI: any host over
// https; over http, only this machine or the ECS and EKS link-local
// addresses, so that the authorization token and the credentials never
// cross a network in clear.
func allowedContainerURL(full string) error {
	u, err := url.Parse(full)
	if err != nil || u.Host == "" {
		return errors.New("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() ||
			ip.Equal(net.ParseIP("169.254.170.2")) || ip.Equal(net.ParseIP("169.254.170.23")) || ip.Equal(net.ParseIP("fd00:ec2::23"))) {
			return nil
		}
		return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI's host %s is not allowed over http: only a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23; use https", host)
	}
	return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI's scheme %q is neither http nor https", u.Scheme)
}

// imdsSource fetches the instance role's credentials from the EC2
// instance metadata service with IMDSv2: a session token, then the
// role's name, then its credentials.
func imdsSource(endpoint string) func(context.Context) (credentials, time.Time, error) {
	endpoint = strings.TrimSuffix(endpoint, "/")
	const source = "instance metadata"
	hc := metadataClient()
	return func(ctx context.Context) (credentials, time.Time, error) {
		tok, err := metadataGet(ctx, hc, http.MethodPut, endpoint+"/latest/api/token",
			http.Header{"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": {imdsTokenTTL}}, source)
		if err != nil {
			return credentials{}, time.Time{}, err
		}
		h := http.Header{"X-Aws-Ec2-Metadata-Token": {strings.TrimSpace(string(tok))}}
		const path = "/latest/meta-data/iam/security-credentials/"
		roles, err := metadataGet(ctx, hc, http.MethodGet, endpoint+path, h, source)
		if err != nil {
			return credentials{}, time.Time{}, err
		}
		role, _, _ := strings.Cut(strings.TrimSpace(string(roles)), "\n")
		role = strings.TrimSpace(role)
		if role == "" {
			return credentials{}, time.Time{}, errors.New(source + ": the instance has no IAM role")
		}
		b, err := metadataGet(ctx, hc, http.MethodGet, endpoint+path+url.PathEscape(role), h, source)
		if err != nil {
			return credentials{}, time.Time{}, err
		}
		return metadataCredentials{}.decode(b, source)
	}
}
