package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// credsJSON is a credentials document numbered n, expiring at exp.
func credsJSON(n int32, exp time.Time) string {
	return fmt.Sprintf(`{"Code":"Success","AccessKeyId":"ASIA%d","SecretAccessKey":"secret%d","Token":"token%d","Expiration":%q}`, n, n, n, exp.UTC().Format(time.RFC3339))
}

// noFiles is an environment without keys or shared files.
func noFiles(t *testing.T, kv ...string) func(string) string {
	dir := t.TempDir()
	m := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"), "AWS_CONFIG_FILE": filepath.Join(dir, "config")}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// TestContainerCredentials fetches a task role's credentials from the
// container endpoint with the token file's content as Authorization,
// keeps them until five minutes before they expire, then fetches new
// ones once however many signers ask at the same time.
func TestContainerCredentials(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/creds" || r.Header.Get("Authorization") != "Bearer pod-token" {
			t.Errorf("%s %s, Authorization %q", r.Method, r.URL, r.Header.Get("Authorization"))
			w.WriteHeader(403)
			return
		}
		time.Sleep(20 * time.Millisecond) // long enough for the signers to queue
		fmt.Fprint(w, credsJSON(n.Add(1), clock.now().Add(time.Hour)))
	}))
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("Bearer pod-token\n"), 0o600)
	e, err := loadAWSEnv(noFiles(t, "AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v2/creds",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored"))
	if err != nil || e.credsErr != nil || e.fetched == nil {
		t.Fatalf("%v %v %v", err, e.credsErr, e.fetched)
	}
	e.fetched.now = clock.now
	ctx := context.Background()
	for range 3 {
		c, err := e.fetched.get(ctx)
		if err != nil || c != (credentials{"ASIA1", "secret1", "token1"}) || n.Load() != 1 {
			t.Fatalf("%+v %v after %d fetches", c, err, n.Load())
		}
	}
	clock.add(54 * time.Minute) // six minutes left: still used
	if c, _ := e.fetched.get(ctx); c.AccessKeyID != "ASIA1" {
		t.Errorf("refreshed early: %+v", c)
	}
	clock.add(2 * time.Minute) // four minutes left: refreshed
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if c, err := e.fetched.get(ctx); err != nil || c.AccessKeyID != "ASIA2" {
				t.Errorf("%+v %v", c, err)
			}
		})
	}
	wg.Wait()
	if n.Load() != 2 {
		t.Errorf("%d fetches for one refresh", n.Load()-1)
	}
}

// TestContainerRelativeURI asks ECS's endpoint at the relative URI,
// with AWS_CONTAINER_AUTHORIZATION_TOKEN when there is no token file.
func TestContainerRelativeURI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/credentials/abc" || r.Header.Get("Authorization") != "tok" {
			w.WriteHeader(404)
			return
		}
		fmt.Fprint(w, `{"AccessKeyId":"ASIAR","SecretAccessKey":"s","Token":"t"}`) // no Expiration: kept
	}))
	defer srv.Close()
	fetch, ok, err := containerSource(noFiles(t, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/ignored", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok"), srv.URL)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	c, exp, err := fetch(context.Background())
	if err != nil || c.AccessKeyID != "ASIAR" || !exp.IsZero() {
		t.Errorf("%+v %v %v", c, exp, err)
	}
}

// TestContainerURLs allows over http only this machine and the ECS and
// EKS addresses, and any host over https.
func TestContainerURLs(t *testing.T) {
	for u, ok := range map[string]bool{
		"http://127.0.0.1:9/x": true, "http://localhost/x": true, "http://[::1]:80/x": true,
		"http://169.254.170.2/v2": true, "http://169.254.170.23/v1/credentials": true, "http://[fd00:ec2::23]/v1": true,
		"https://creds.example.com/x": true, "http://creds.example.com/x": false, "http://10.0.0.1/x": false,
		"http://169.254.169.254/x": false, "ftp://127.0.0.1/x": false, "127.0.0.1/x": false,
	} {
		if err := allowedContainerURL(u); (err == nil) != ok {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// imdsServer is an instance metadata service that wants IMDSv2's token
// and counts the credentials it gives, which expire after life.
func imdsServer(t *testing.T, life time.Duration, now func() time.Time) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") != "21600" {
				w.WriteHeader(400)
				return
			}
			fmt.Fprint(w, "session-token")
		case r.Header.Get("X-aws-ec2-metadata-token") != "session-token":
			w.WriteHeader(401)
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/":
			fmt.Fprint(w, "web-role\n")
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/web-role":
			fmt.Fprint(w, credsJSON(n.Add(1), now().Add(life)))
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestIMDS fetches the instance role's credentials with IMDSv2 and
// fetches them again when they are about to expire; when the service
// then fails, the credentials still valid are used.
func TestIMDS(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	srv, n := imdsServer(t, 10*time.Minute, clock.now)
	e, err := loadAWSEnv(noFiles(t, "AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL+"/"))
	if err != nil || e.credsErr != nil || !e.fromIMDS {
		t.Fatalf("%v %v", err, e.credsErr)
	}
	e.fetched.now = clock.now
	ctx := context.Background()
	if c, err := e.fetched.get(ctx); err != nil || c != (credentials{"ASIA1", "secret1", "token1"}) {
		t.Fatalf("%+v %v", c, err)
	}
	clock.add(4 * time.Minute)
	if c, _ := e.fetched.get(ctx); c.AccessKeyID != "ASIA1" || n.Load() != 1 {
		t.Errorf("%+v after %d fetches", c, n.Load())
	}
	clock.add(2 * time.Minute) // four minutes left
	if c, err := e.fetched.get(ctx); err != nil || c.AccessKeyID != "ASIA2" {
		t.Errorf("not refreshed: %+v %v", c, err)
	}
	srv.Close()
	clock.add(7 * time.Minute) // three minutes left, and no service
	if c, err := e.fetched.get(ctx); err != nil || c.AccessKeyID != "ASIA2" {
		t.Errorf("the valid credentials were not kept: %+v %v", c, err)
	}
	clock.add(4 * time.Minute) // expired
	if _, err := e.fetched.get(ctx); err == nil || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Errorf("expired credentials: %v", err)
	}
}

// TestIMDSDisabled does not ask the service when AWS_EC2_METADATA_DISABLED
// is true.
func TestIMDSDisabled(t *testing.T) {
	srv, n := imdsServer(t, time.Hour, time.Now)
	e, err := loadAWSEnv(noFiles(t, "AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL, "AWS_EC2_METADATA_DISABLED", "true"))
	if err != nil || e.fetched != nil || e.credsErr == nil || !strings.Contains(e.credsErr.Error(), "AWS_EC2_METADATA_DISABLED") || n.Load() != 0 {
		t.Errorf("%v %v %v, %d fetches", err, e.fetched, e.credsErr, n.Load())
	}
}

// TestNoIMDS fails within about a second on a machine whose metadata
// service does not answer, with the error that says what was looked
// for, and does not ask again at once for the tasks that follow.
func TestNoIMDS(t *testing.T) {
	hang := make(chan struct{})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	e, err := loadAWSEnv(noFiles(t, "AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL))
	if err != nil || e.fetched == nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = e.fetched.get(context.Background())
	if d := time.Since(start); err == nil || d > 2500*time.Millisecond ||
		!strings.Contains(err.Error(), "no AWS credentials: no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") || !strings.Contains(err.Error(), "instance metadata") {
		t.Fatalf("after %v: %v", d, err)
	}
	start = time.Now()
	if _, err2 := e.fetched.get(context.Background()); err2 == nil || time.Since(start) > 100*time.Millisecond || n.Load() != 1 {
		t.Errorf("asked again: %v after %v, %d requests", err2, time.Since(start), n.Load())
	}
}

// TestMetadataErrors keeps the secret out of errors and refuses
// responses over 64 KiB.
func TestMetadataErrors(t *testing.T) {
	body := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }))
	defer srv.Close()
	fetch, _, err := containerSource(noFiles(t, "AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL), "")
	if err != nil {
		t.Fatal(err)
	}
	for b, want := range map[string]string{
		`{"AccessKeyId":"ASIA","SecretAccessKey":"hush-hush"`:                                 "not a JSON document",
		`{"AccessKeyId":"ASIA","SecretAccessKey":"hush-hush","Expiration":"tomorrow"}`:        "is not an RFC 3339 time",
		`{"SecretAccessKey":"hush-hush"}`:                                                     "no AccessKeyId",
		`{"AccessKeyId":"` + strings.Repeat("x", 64<<10) + `","SecretAccessKey":"hush-hush"}`: "larger than 65536 bytes",
	} {
		body = b
		_, _, err := fetch(context.Background())
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "hush-hush") {
			t.Errorf("%.60s: %v", b, err)
		}
	}
}

// TestSignedWithFetched signs the calls of a Client with the fetched
// credentials and their session token.
func TestSignedWithFetched(t *testing.T) {
	var auth, token string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/creds" {
			fmt.Fprint(w, credsJSON(7, time.Now().Add(time.Hour)))
			return
		}
		auth, token = r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token")
		fmt.Fprint(w, `{"Item":{"id":{"S":"x"}}}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	for k, v := range map[string]string{"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_ACCESS_KEY": "", "AWS_SECRET_KEY": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.URL + "/creds", "AWS_REGION": "eu-west-1"} {
		t.Setenv(k, v)
	}
	c, err := New(context.Background(), Config{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(context.Background(), "arn:aws:states:::dynamodb:getItem", decode(t, `{"TableName":"t","Key":{"id":{"S":"x"}}}`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(auth, "Credential=ASIA7/") || token != "token7" {
		t.Errorf("Authorization %q, token %q", auth, token)
	}
}
