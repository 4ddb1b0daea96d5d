package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
)

// sessionCookie names the session cookie.
const sessionCookie = "velocity_session"

// sessionLife is how long a login lasts: a working day, so that a
// forgotten browser does not stay logged in for ever.
const sessionLife = 12 * time.Hour

// session is what a valid session cookie says, put in the request's
// context by withSession.
type session struct {
	token access.Token
	// value is the cookie's value; the CSRF token is derived from it.
	value  string
	expiry time.Time
}

type sessionKey struct{}

// authRoutes serves /login (a form with a token field) and /logout.
func (s *Site) authRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.action(access.Viewer, s.logout))
}

// loginPage is the data of templates/login.html.
type loginPage struct {
	Next  string
	Error string
}

func (s *Site) loginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "login", "Log in", "", loginPage{Next: localPath(r.URL.Query().Get("next"))})
}

// login checks the token typed in the form. Failures are counted per
// remote address: a token is 32 random bytes, but nothing should let an
// address try them at speed.
func (s *Site) login(w http.ResponseWriter, r *http.Request) {
	ip := remoteIP(r)
	next := localPath(r.PostFormValue("next"))
	if !sameOrigin(r) {
		// A login has no session to derive a CSRF token from; browsers
		// say where a form came from, and another site's form is refused
		// (it could log a victim in as its author).
		s.forbidden(w, r, "The login form was posted from another site.")
		return
	}
	if wait, blocked := s.logins.blocked(ip); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		s.renderStatus(w, r, http.StatusTooManyRequests, "login", "Log in", "",
			loginPage{Next: next, Error: "Too many failed logins from your address; wait a minute and try again."})
		return
	}
	if len(s.Key) < 16 {
		s.fail(w, r, errors.New("the site has no key to sign sessions with"))
		return
	}
	tok, err := s.authenticate(r.Context(), r.PostFormValue("token"))
	if err != nil {
		s.logins.failed(ip)
		// The token's name, never the secret typed, goes to the log.
		s.log().Warn("web login refused", "remote", ip, "token", tok.Name, "reason", err.Error())
		s.renderStatus(w, r, http.StatusUnauthorized, "login", "Log in", "",
			loginPage{Next: next, Error: "That token is not valid (unknown or revoked)."})
		return
	}
	http.SetCookie(w, s.cookie(s.sign(tok, time.Now().Add(sessionLife)), sessionLife))
	s.log().Info("web login", "token", tok.Name, "remote", ip)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Site) authenticate(ctx context.Context, secret string) (access.Token, error) {
	if s.Access == nil {
		return access.Token{}, errors.New("the server has no tokens")
	}
	return s.Access.Authenticate(ctx, secret)
}

func (s *Site) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess, err := s.verify(r.Context(), c.Value); err == nil {
			s.ended.add(c.Value, sess.expiry)
		}
	}
	http.SetCookie(w, s.cookie("", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// cookie is the session cookie holding value for life (negative deletes
// it). Lax keeps it off cross-site POSTs; HttpOnly away from scripts.
func (s *Site) cookie(value string, life time.Duration) *http.Cookie {
	maxAge := int(life.Seconds())
	if life < 0 {
		maxAge = -1 // any negative life; int() of a fraction of a second is 0, which deletes nothing
	}
	return &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode}
}

// sign makes a cookie value for tok until expiry: the token's name and
// creation time (a token made again under a revoked one's name is another
// token) and the expiry, with their HMAC. Never the secret: a stolen
// cookie dies with its expiry or the token's revocation.
func (s *Site) sign(tok access.Token, expiry time.Time) string {
	payload := strings.Join([]string{tok.Name, strconv.FormatInt(tok.Created.UnixNano(), 10), strconv.FormatInt(expiry.Unix(), 10)}, "\n")
	enc := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return enc + "." + base64.RawURLEncoding.EncodeToString(s.mac("session", enc))
}

// mac is the HMAC of msg under the site's key, for purpose: a CSRF token
// can never pass for a session signature.
func (s *Site) mac(purpose, msg string) []byte {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte(purpose + "\x00" + msg))
	return m.Sum(nil)
}

// verify returns the session of a cookie value: its signature must
// match, it must not have expired, and its token must still exist and
// not be revoked (asked of the access service every time, so that
// revoking a token logs its sessions out).
func (s *Site) verify(ctx context.Context, value string) (session, error) {
	enc, sig, ok := strings.Cut(value, ".")
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || len(s.Key) == 0 || !hmac.Equal(got, s.mac("session", enc)) {
		return session{}, errors.New("bad signature")
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	parts := strings.Split(string(raw), "\n")
	if err != nil || len(parts) != 3 {
		return session{}, errors.New("malformed")
	}
	created, err1 := strconv.ParseInt(parts[1], 10, 64)
	expiry, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || time.Now().Unix() >= expiry {
		return session{}, errors.New("expired")
	}
	if s.ended.has(value) {
		return session{}, errors.New("logged out")
	}
	tok, err := s.liveToken(ctx, parts[0], created)
	if err != nil {
		return session{}, err
	}
	return session{token: tok, value: value, expiry: time.Unix(expiry, 0)}, nil
}

// endedSessions are the sessions logged out before their expiry, so that
// a copy of the cookie dies with the logout. They are kept in memory
// until they expire: a restart of the server forgets them (revoking the
// token ends every session for good).
type endedSessions struct {
	mu   sync.Mutex
	till map[string]time.Time
}

func (e *endedSessions) add(value string, expiry time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	for v, t := range e.till {
		if !t.After(now) {
			delete(e.till, v)
		}
	}
	if e.till == nil {
		e.till = map[string]time.Time{}
	}
	e.till[value] = expiry
}

func (e *endedSessions) has(value string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.till[value]
	return ok
}

// liveToken is the token named name made at created, if not revoked.
func (s *Site) liveToken(ctx context.Context, name string, created int64) (access.Token, error) {
	if s.Access == nil {
		return access.Token{}, errors.New("the server has no tokens")
	}
	all, err := s.Access.List(ctx)
	if err != nil {
		return access.Token{}, fmt.Errorf("listing tokens: %w", err)
	}
	for _, t := range all {
		if t.Name == name && t.Created.UnixNano() == created && t.Revoked.IsZero() {
			return t, nil
		}
	}
	return access.Token{}, fmt.Errorf("token %s is revoked or gone", name)
}

// public reports whether path is served without a session: the login
// page, the assets it uses and the badges READMEs embed.
func public(path string) bool {
	return path == "/login" || strings.HasPrefix(path, "/static/") || strings.HasPrefix(path, "/badge/")
}

// withSession admits requests with a valid session cookie and sends the
// others to /login (the login page and static files need none).
func (s *Site) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		sess, err := s.session(r)
		if err != nil {
			to := "/login?next=" + url.QueryEscape(r.URL.RequestURI())
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

// session reads and verifies r's session cookie.
func (s *Site) session(r *http.Request) (session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, err
	}
	sess, err := s.verify(r.Context(), c.Value)
	if err != nil {
		s.log().Debug("web session refused", "remote", remoteIP(r), "reason", err.Error())
	}
	return sess, err
}

// user is the token of r's session.
func (s *Site) user(r *http.Request) (access.Token, bool) {
	sess, ok := r.Context().Value(sessionKey{}).(session)
	return sess.token, ok
}

// csrfToken is the CSRF token of r's session, for forms: derived from
// the session cookie with the key, so that it needs no storage and a
// page of another site, which cannot read the cookie, cannot forge it.
func (s *Site) csrfToken(r *http.Request) string {
	sess, ok := r.Context().Value(sessionKey{}).(session)
	if !ok {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(s.mac("csrf", sess.value))
}

// action wraps the handler of a form's POST: it needs the session's role
// to be at least role and the form's CSRF token to match; otherwise 403.
func (s *Site) action(role access.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "this address takes a form's POST", http.StatusMethodNotAllowed)
			return
		}
		u, ok := s.user(r)
		if !ok || !access.Allow(u.Role, role) {
			s.forbidden(w, r, fmt.Sprintf("This needs the %s role; your token %s has %s.", role, u.Name, u.Role))
			return
		}
		want := s.csrfToken(r)
		if got := r.PostFormValue("csrf"); want == "" || !hmac.Equal([]byte(got), []byte(want)) {
			s.forbidden(w, r, "The form's CSRF token is missing or stale: reload the page and try again.")
			return
		}
		h(w, r)
	}
}

func (s *Site) forbidden(w http.ResponseWriter, r *http.Request, why string) {
	s.log().Warn("web action refused", "path", r.URL.Path, "remote", remoteIP(r), "reason", why)
	s.renderStatus(w, r, http.StatusForbidden, "error", "Forbidden", "", errorPage{Status: http.StatusForbidden, Message: why})
}

// localPath is next when it is a path of this site, else "/": a login
// link must not send people on to another site.
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	return next
}

// sameOrigin reports whether r, a form's POST, came from a page of this
// site, by its Origin header when the browser sent one.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// remoteIP is the address a request came from, without its port.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// throttle counts failed logins per address in a token bucket: an
// address whose bucket is empty is refused until it refills, whether its
// next token is right or not.
type throttle struct {
	limiter *access.Limiter
	mu      sync.Mutex
	until   map[string]time.Time
}

func newThrottle() *throttle {
	// Five tries at once, then one every 12 seconds.
	return &throttle{limiter: &access.Limiter{Rate: 1.0 / 12, Burst: 5}, until: map[string]time.Time{}}
}

// blocked reports whether ip may not try now, and for how long. A nil
// throttle (routes registered without Handler) blocks no one.
func (t *throttle) blocked(ip string) (time.Duration, bool) {
	if t == nil {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	until, ok := t.until[ip]
	if !ok {
		return 0, false
	}
	if wait := time.Until(until); wait > 0 {
		return wait, true
	}
	delete(t.until, ip)
	return 0, false
}

// failed counts a failed login of ip.
func (t *throttle) failed(ip string) {
	if t == nil {
		return
	}
	if ok, wait := t.limiter.Allow(ip); !ok {
		t.mu.Lock()
		now := time.Now()
		// Addresses whose wait is over are forgotten as new ones come,
		// so that many addresses do not grow the map for ever.
		if len(t.until) >= 1024 {
			for k, u := range t.until {
				if !u.After(now) {
					delete(t.until, k)
				}
			}
		}
		t.until[ip] = now.Add(wait)
		t.mu.Unlock()
	}
}
