package integration

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
// an HMAC-SHA256 over a canonical form of the request, with a key
// derived from the secret, the day, the region and the service.

const (
	sigAlgorithm  = "AWS4-HMAC-SHA256"
	amzDateFormat = "20060102T150405Z"
)

// unsignedHeaders are left out of the signature: proxies and the HTTP
// stack may change them on the way.
var unsignedHeaders = []string{"authorization", "user-agent", "x-amzn-trace-id", "expect", "transfer-encoding"}

// signer signs requests with one set of credentials for one region.
type signer struct {
	creds  credentials
	region string
}

// sign adds X-Amz-Date, X-Amz-Security-Token (for temporary
// credentials) and Authorization to req, whose body hashes to
// payloadHash (hex SHA-256). S3 wants the path signed as sent; the other
// services want it escaped once more.
func (s signer) sign(req *http.Request, service, payloadHash string, at time.Time) {
	at = at.UTC()
	amzDate := at.Format(amzDateFormat)
	req.Header.Set("X-Amz-Date", amzDate)
	if s.creds.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", s.creds.SessionToken)
	}
	scope := at.Format("20060102") + "/" + s.region + "/" + service + "/aws4_request"
	canonical, signedHeaders := canonicalRequest(req, payloadHash, service != "s3")
	sum := sha256.Sum256([]byte(canonical))
	toSign := sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+s.creds.SecretAccessKey), at.Format("20060102"))
	key = hmacSHA256(key, s.region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", sigAlgorithm+" Credential="+s.creds.AccessKeyID+"/"+scope+
		", SignedHeaders="+signedHeaders+", Signature="+sig)
}

// canonicalRequest is the request in SigV4's canonical form and the
// list of the headers it signs.
func canonicalRequest(req *http.Request, payloadHash string, escapePath bool) (string, string) {
	path := req.URL.EscapedPath()
	if req.URL.Opaque != "" {
		path = req.URL.Opaque
	}
	if path == "" {
		path = "/"
	}
	if escapePath {
		path = uriEscape(path, false)
	}

	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	headers := map[string]string{"host": withoutDefaultPort(req.URL.Scheme, host)}
	if req.ContentLength > 0 {
		headers["content-length"] = strconv.FormatInt(req.ContentLength, 10)
	}
	for k, vs := range req.Header {
		k = strings.ToLower(k)
		if slices.Contains(unsignedHeaders, k) || k == "host" || k == "content-length" {
			continue
		}
		trimmed := make([]string, len(vs))
		for i, v := range vs {
			trimmed[i] = strings.Join(strings.Fields(v), " ")
		}
		headers[k] = strings.Join(trimmed, ",")
	}
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(req.Method + "\n" + path + "\n" + canonicalQuery(req.URL.Query()) + "\n")
	for _, k := range names {
		b.WriteString(k + ":" + headers[k] + "\n")
	}
	signed := strings.Join(names, ";")
	b.WriteString("\n" + signed + "\n" + payloadHash)
	return b.String(), signed
}

// canonicalQuery is the query string with names and values escaped as
// SigV4 wants them (RFC 3986, space as %20), sorted by name then value.
func canonicalQuery(q url.Values) string {
	pairs := make([]string, 0, len(q))
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEscape(k, true)+"="+uriEscape(v, true))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// uriEscape percent-encodes every byte but RFC 3986's unreserved
// characters, and "/" too when escapeSlash is set.
func uriEscape(s string, escapeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/' && !escapeSlash {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
