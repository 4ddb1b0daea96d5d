package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
)

// signed is a cookie value carrying payload, signed with s's key as the
// site signs sessions: what someone who knows the key could make.
func signed(s *Site, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return enc + "." + base64.RawURLEncoding.EncodeToString(s.mac("session", enc))
}

// A site needs a key of at least 16 bytes to open sessions: a shorter
// one is a configuration error, not a login.
func TestLoginNeedsAKeyOfSixteenBytes(t *testing.T) {
	f := newFixture(t)
	secret := f.token("alice", access.Viewer)
	for key, want := range map[string]int{"0123456789abcde": 500, "0123456789abcdef": 303} {
		s := &Site{Access: f.access, Key: []byte(key), Log: f.site.Log}
		srv := httptest.NewServer(s.Handler())
		defer srv.Close()
		c := f.client()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err := c.PostForm(srv.URL+"/login", url.Values{"token": {secret}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want || (want == 500) != (res.Header.Get("Set-Cookie") == "") {
			t.Errorf("a key of %d bytes: %s, cookie %q; want %d", len(key), res.Status, res.Header.Get("Set-Cookie"), want)
		}
	}
}

// Without a key nothing is a session, not even a cookie signed with the
// empty key.
func TestASiteWithoutAKeyTakesNoSession(t *testing.T) {
	f := newFixture(t)
	tok, err := f.access.Authenticate(context.Background(), f.token("alice", access.Admin))
	if err != nil {
		t.Fatal(err)
	}
	s := &Site{Access: f.access}
	if _, err := s.verify(context.Background(), s.sign(tok, time.Now().Add(time.Hour))); err == nil {
		t.Error("a site without a key took a session signed with the empty key")
	}
	if _, err := f.site.verify(context.Background(), f.site.sign(tok, time.Now().Add(time.Hour))); err != nil {
		t.Errorf("the fixture's own session: %v", err)
	}
}

// A session ends at its expiry, and a value the site did not make in
// the shape it makes them is no session, signed or not.
func TestSessionExpiryAndShape(t *testing.T) {
	f := newFixture(t)
	tok, err := f.access.Authenticate(context.Background(), f.token("alice", access.Viewer))
	if err != nil {
		t.Fatal(err)
	}
	s := f.site
	ctx := context.Background()
	if _, err := s.verify(ctx, s.sign(tok, time.Now())); err == nil {
		t.Error("a session was taken at its expiry")
	}
	if sess, err := s.verify(ctx, s.sign(tok, time.Now().Add(2*time.Second))); err != nil || sess.token.Name != "alice" {
		t.Errorf("a session before its expiry: %+v, %v", sess, err)
	}
	created := tok.Created.UnixNano()
	future := time.Now().Add(time.Hour).Unix()
	for name, value := range map[string]string{
		"two parts":      signed(s, "alice\n"+itoa(future)),
		"four parts":     signed(s, "alice\n"+itoa(created)+"\n"+itoa(future)+"\nx"),
		"bad created":    signed(s, "alice\nyesterday\n"+itoa(future)),
		"bad expiry":     signed(s, "alice\n"+itoa(created)+"\nnever"),
		"other creation": signed(s, "alice\n"+itoa(created+1)+"\n"+itoa(future)),
		"no signature":   base64.RawURLEncoding.EncodeToString([]byte("alice\n" + itoa(created) + "\n" + itoa(future))),
		"not base64":     "!!!." + strings.Split(signed(s, "x"), ".")[1],
	} {
		if _, err := s.verify(ctx, value); err == nil {
			t.Errorf("%s: taken as a session", name)
		}
	}
	if _, err := s.verify(ctx, signed(s, "alice\n"+itoa(created)+"\n"+itoa(future))); err != nil {
		t.Errorf("the well-made value: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A form posted from a page of this site itself, as browsers say in
// Origin, logs in.
func TestLoginFromThisSiteIsTaken(t *testing.T) {
	f := newFixture(t)
	secret := f.token("alice", access.Viewer)
	req, _ := http.NewRequest("POST", f.srv.URL+"/login", strings.NewReader(url.Values{"token": {secret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", f.srv.URL)
	c := f.client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login posted from this site: %s, want 303", res.Status)
	}
}

// A next path of this site is kept as given; anything that could lead
// elsewhere or split the Location header becomes "/".
func TestLocalPath(t *testing.T) {
	for next, want := range map[string]string{
		"/runs/1?x=1#top":   "/runs/1?x=1#top",
		"/":                 "/",
		"":                  "/",
		"runs/1":            "/",
		"/a\r\nSet-Cookie:": "/",
		"/a\\b":             "/",
		"https://h/":        "/",
		"//h/":              "/",
		"%zz":               "/",
	} {
		if got := localPath(next); got != want {
			t.Errorf("localPath(%q) = %q, want %q", next, got, want)
		}
	}
}

// A form's POST needs the role and the CSRF token of the session; a GET
// to it is not a form.
func TestActionChecksMethodRoleAndCSRF(t *testing.T) {
	f := newFixture(t)
	dev := f.login("dev", access.Developer)
	viewer := f.login("val", access.Viewer)
	called := 0
	h := f.site.withSession(f.site.action(access.Developer, func(w http.ResponseWriter, r *http.Request) { called++ }))
	do := func(c *http.Client, method, csrf string) int {
		r := httptest.NewRequest(method, "/act", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		u, _ := url.Parse(f.srv.URL)
		for _, ck := range c.Jar.Cookies(u) {
			r.AddCookie(ck)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	devCSRF, viewerCSRF := f.csrf(dev, "/"), f.csrf(viewer, "/")
	for name, c := range map[string]struct {
		code int
		got  int
	}{
		"developer":              {200, do(dev, "POST", devCSRF)},
		"developer, GET":         {405, do(dev, "GET", devCSRF)},
		"developer, no csrf":     {403, do(dev, "POST", "")},
		"developer, viewer csrf": {403, do(dev, "POST", viewerCSRF)},
		"viewer with its csrf":   {403, do(viewer, "POST", viewerCSRF)},
		"no session":             {303, do(f.client(), "POST", "")},
	} {
		if c.got != c.code {
			t.Errorf("%s: %d, want %d", name, c.got, c.code)
		}
	}
	if called != 1 {
		t.Errorf("the action ran %d times, want once", called)
	}
}

// Failed logins are counted by address, whatever port each comes from:
// opening new connections does not buy more tries. The sixth failure
// empties the bucket for about twelve seconds; another address is not
// slowed.
func TestFailedLoginsCountByAddressNotConnection(t *testing.T) {
	f := newFixture(t)
	secret := f.token("alice", access.Viewer)
	s := &Site{Access: f.access, Key: f.site.Key, Log: f.site.Log}
	h := s.Handler()
	login := func(addr, token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 6 {
		if w := login("192.0.2.1:"+strconv.Itoa(1000+i), "vel_wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	w := login("192.0.2.1:2000", secret)
	retry, _ := strconv.Atoi(w.Header().Get("Retry-After"))
	if w.Code != http.StatusTooManyRequests || retry < 10 || retry > 12 {
		t.Errorf("the right token from a new port after six failures: %d, Retry-After %q; want 429, about 12s", w.Code, w.Header().Get("Retry-After"))
	}
	if w := login("198.51.100.1:1000", secret); w.Code != http.StatusSeeOther {
		t.Errorf("another address: %d, want 303", w.Code)
	}
}

// Logging out deletes the session cookie in the browser, not only on
// the server's side.
func TestLogoutDeletesTheCookie(t *testing.T) {
	f := newFixture(t)
	c := f.login("alice", access.Viewer)
	res := f.post(c, "/logout", url.Values{"csrf": {f.csrf(c, "/")}})
	if got := res.Header.Get("Set-Cookie"); !strings.HasPrefix(got, sessionCookie+"=;") || !strings.Contains(got, "Max-Age=0") {
		t.Errorf("logout's Set-Cookie %q: want the session cookie emptied with Max-Age=0", got)
	}
}
