package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/access"
)

func TestLoginWithAGoodTokenOpensASession(t *testing.T) {
	f := newFixture(t)
	secret := f.token("alice", access.Viewer)
	c := f.client()

	res, _ := f.get(c, "/runs/1?x=1")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Fruns%2F1%3Fx%3D1" {
		t.Fatalf("without a session: %s to %q, want 303 to the login page", res.Status, res.Header.Get("Location"))
	}
	res, body := f.get(c, "/login")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("login page: %s", res.Status)
	}
	contains(t, body, `<form method="post" action="/login">`, `name="token"`)

	res = f.post(c, "/login", url.Values{"token": {secret}, "next": {"/runs/1?x=1"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/runs/1?x=1" {
		t.Fatalf("login: %s to %q, want 303 to next", res.Status, res.Header.Get("Location"))
	}
	cookie := res.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, secret) || strings.Contains(cookie, "vel_") {
		t.Errorf("the session cookie holds the token's secret: %q", cookie)
	}
	res, body = f.get(c, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("dashboard with a session: %s", res.Status)
	}
	contains(t, body, "alice (viewer)")
	if strings.Contains(body, secret) {
		t.Error("the page shows the token's secret")
	}
}

func TestLoginWithABadTokenIsRefused(t *testing.T) {
	f := newFixture(t)
	f.token("alice", access.Viewer)
	c := f.client()
	res := f.post(c, "/login", url.Values{"token": {"vel_not-a-token"}})
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: %s, want 401", res.Status)
	}
	if res.Header.Get("Set-Cookie") != "" {
		t.Errorf("a refused login set a cookie: %q", res.Header.Get("Set-Cookie"))
	}
	if res, _ := f.get(c, "/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after a refused login, the dashboard answers %s, want 303 to /login", res.Status)
	}
}

func TestFailedLoginsAreRateLimitedByAddress(t *testing.T) {
	f := newFixture(t)
	secret := f.token("alice", access.Viewer)
	c := f.client()
	var last *http.Response
	for range 6 {
		last = f.post(c, "/login", url.Values{"token": {"vel_wrong"}})
	}
	if last.StatusCode != http.StatusUnauthorized {
		t.Fatalf("6th failed login: %s, want 401", last.Status)
	}
	// The bucket is empty: even the right token waits.
	res := f.post(c, "/login", url.Values{"token": {secret}})
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("login after 6 failures: %s (Retry-After %q), want 429 with Retry-After", res.Status, res.Header.Get("Retry-After"))
	}
}

func TestLoginSendsOnOnlyToLocalPaths(t *testing.T) {
	f := newFixture(t)
	secret := f.token("alice", access.Viewer)
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		res := f.post(f.client(), "/login", url.Values{"token": {secret}, "next": {next}})
		if got := res.Header.Get("Location"); got != "/" {
			t.Errorf("next %q: sent to %q, want /", next, got)
		}
	}
}

func TestLoginFromAnotherSiteIsRefused(t *testing.T) {
	f := newFixture(t)
	secret := f.token("alice", access.Viewer)
	req, _ := http.NewRequest("POST", f.srv.URL+"/login", strings.NewReader(url.Values{"token": {secret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	res, err := f.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("login posted from another site: %s, want 403", res.Status)
	}
}

func TestRevokingATokenLogsItOut(t *testing.T) {
	f := newFixture(t)
	c := f.login("alice", access.Viewer)
	if res, _ := f.get(c, "/"); res.StatusCode != http.StatusOK {
		t.Fatalf("before revoking: %s", res.Status)
	}
	if err := f.access.Revoke(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.get(c, "/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after revoking: %s, want 303 to /login", res.Status)
	}
	// A new token under the revoked one's name is another token: the
	// old session stays out.
	f.token("alice", access.Admin)
	if res, _ := f.get(c, "/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after making a token of the same name: %s, want 303 to /login", res.Status)
	}
}

func TestATamperedSessionCookieIsRefused(t *testing.T) {
	f := newFixture(t)
	c := f.login("alice", access.Viewer)
	u, _ := url.Parse(f.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			ck.Value = "x" + ck.Value
			c.Jar.SetCookies(u, []*http.Cookie{ck})
		}
	}
	if res, _ := f.get(c, "/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("tampered cookie: %s, want 303 to /login", res.Status)
	}
}

func TestLogoutNeedsCSRFAndEndsTheSession(t *testing.T) {
	f := newFixture(t)
	c := f.login("alice", access.Viewer)
	if res := f.post(c, "/logout", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %s, want 403", res.Status)
	}
	// A copy of the cookie (another browser, a stolen one) dies with the
	// logout too.
	site, _ := url.Parse(f.srv.URL)
	copied := f.client()
	copied.Jar.SetCookies(site, c.Jar.Cookies(site))
	if res, _ := f.get(copied, "/"); res.StatusCode != http.StatusOK {
		t.Fatalf("the copied cookie before logout: %s, want 200", res.Status)
	}
	res := f.post(c, "/logout", url.Values{"csrf": {f.csrf(c, "/")}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", res.Status)
	}
	if res, _ := f.get(c, "/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout: %s, want 303 to /login", res.Status)
	}
	if res, _ := f.get(copied, "/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the copied cookie after logout: %s, want 303 to /login", res.Status)
	}
}

func TestStaticFilesAndBadgesNeedNoSession(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/static/site.css", "/static/live.js", "/login"} {
		if res, _ := f.get(f.client(), p); res.StatusCode != http.StatusOK {
			t.Errorf("%s without a session: %s", p, res.Status)
		}
	}
}

func TestSessionCookieIsSecureBehindTLS(t *testing.T) {
	s := &Site{Secure: true}
	c := s.cookie("v", sessionLife)
	if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie %+v: want Secure, HttpOnly, SameSite=Lax", c)
	}
}

func TestEachSessionHasItsOwnCSRFToken(t *testing.T) {
	f := newFixture(t)
	a, b := f.login("alice", access.Developer), f.login("bob", access.Developer)
	ta, tb := f.csrf(a, "/"), f.csrf(b, "/")
	if ta == tb {
		t.Fatal("two sessions share a CSRF token")
	}
	// Bob's token does not pass in Alice's session.
	if res := f.post(a, "/logout", url.Values{"csrf": {tb}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("another session's CSRF token: %s, want 403", res.Status)
	}
}
