package trigger

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/velocity-ci/velocity/internal/fault"
)

// Parse verifies and parses a webhook from provider p, with the request's
// headers, its raw body and the project's webhook secret. The signature
// is checked before anything else is read: a request that fails it is
// Unauthorised whatever it says. A body that is not what the provider
// sends is Invalid.
func Parse(p Provider, h http.Header, body, secret []byte) (Event, error) {
	if len(secret) == 0 {
		return Event{}, fault.Unauthorisedf("the project has no webhook secret: every webhook is refused")
	}
	if len(body) > MaxBody {
		return Event{}, fault.Invalidf("webhook body of %d bytes is larger than %d", len(body), MaxBody)
	}
	switch p {
	case GitHub:
		return parseGitHub(h, body, secret)
	case GitLab:
		return parseGitLab(h, body, secret)
	case Gitea:
		return parseGitea(h, body, secret)
	}
	return Event{}, fault.Invalidf("unknown webhook provider %q (github, gitlab or gitea)", p)
}

// ReadBody reads a webhook body of at most MaxBody bytes; a larger one is
// Invalid. The server should still wrap the request body in
// http.MaxBytesReader so a slow, endless body is cut off early.
func ReadBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read webhook body: %w", err)
	}
	if len(body) > MaxBody {
		return nil, fault.Invalidf("webhook body is larger than %d bytes", MaxBody)
	}
	return body, nil
}

// checkHMAC compares a hex HMAC-SHA256 signature of body in constant time.
func checkHMAC(header, sig string, body, secret []byte) error {
	if sig == "" {
		return fault.Unauthorisedf("missing %s header", header)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return fault.Unauthorisedf("%s is not a hex HMAC-SHA256", header)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fault.Unauthorisedf("%s does not match the body signed with the project's webhook secret", header)
	}
	return nil
}

// payload returns the JSON document of a body: the body itself, or the
// "payload" field of a form, which GitHub and Gitea send when the hook's
// content type is application/x-www-form-urlencoded.
func payload(h http.Header, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fault.Invalidf("form body: %v", err)
	}
	p := form.Get("payload")
	if p == "" {
		return nil, fault.Invalidf(`form body has no "payload" field`)
	}
	return []byte(p), nil
}

// decode reads a JSON object into v; fields not in v are ignored.
func decode(doc []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(doc))
	if err := d.Decode(v); err != nil {
		return fault.Invalidf("webhook body is not the JSON object of a push: %v", err)
	}
	if d.More() {
		return fault.Invalidf("webhook body has data after its JSON object")
	}
	return nil
}
