package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// secretPrefix starts every secret: it lets people, and the secret
// scanners of code hosts, recognise a leaked Velocity token.
const secretPrefix = "vel_"

// touchEvery is how stale a token's last-used time may get: recording
// every request would make each API call a write to the store.
const touchEvery = time.Minute

// Token is what may be known about a token: never its secret, nor the
// secret's hash.
type Token struct {
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
	Revoked  time.Time `json:"revoked,omitzero"`
}

// Config is what a Service is built with.
type Config struct {
	// Store keeps the tokens.
	Store store.Tokens
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Rand is the source of secrets; nil is crypto/rand.
	Rand io.Reader
	// Logger receives what an operator may want to know (a last-used
	// time that could not be recorded).
	Logger *slog.Logger
}

// Service makes, lists, revokes and authenticates API tokens. It is safe
// for concurrent use.
type Service struct {
	cfg Config
}

// New returns the service of cfg.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg}
}

var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`) })

// Create makes a token named name with role and returns its secret, the
// only time anyone sees it. A name in use by a token that is not revoked
// is an error of kind fault.Conflict.
func (s *Service) Create(ctx context.Context, name string, role Role) (string, error) {
	if !validName().MatchString(name) {
		return "", fault.Invalidf("token name %q: use up to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", err
	}
	var raw [32]byte
	if _, err := io.ReadFull(s.cfg.Rand, raw[:]); err != nil {
		return "", fmt.Errorf("token %s: making its secret: %w", name, err)
	}
	secret := secretPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	err := s.cfg.Store.CreateToken(ctx, store.Token{
		Name: name, Role: string(role), Hash: hash(secret), Created: s.cfg.Now(),
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// List returns every token, revoked ones too, ordered by name.
func (s *Service) List(ctx context.Context) ([]Token, error) {
	all, err := s.cfg.Store.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Token, len(all))
	for i, t := range all {
		out[i] = view(t)
	}
	return out, nil
}

// Revoke makes the token named name useless from now on.
func (s *Service) Revoke(ctx context.Context, name string) error {
	err := s.cfg.Store.RevokeToken(ctx, name, s.cfg.Now())
	if errors.Is(err, store.ErrNotFound) {
		return fault.NotFoundf("no token named %s (see 'velocity token list')", name)
	}
	return err
}

var (
	// ErrNoToken is wrapped when a request presents no token.
	ErrNoToken = fault.New(fault.Unauthorised, "no API token: send one as 'Authorization: Bearer TOKEN' (make one with 'velocity token create')")
	// ErrBadToken is wrapped when the presented secret is no token's.
	ErrBadToken = fault.New(fault.Unauthorised, "invalid API token")
)

// Authenticate returns the token whose secret was presented. No secret,
// an unknown one or a revoked token's is an error of kind
// fault.Unauthorised; for a revoked token the token is returned too, so
// that the refusal can be logged by its name.
func (s *Service) Authenticate(ctx context.Context, secret string) (Token, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return Token{}, ErrNoToken
	}
	all, err := s.cfg.Store.Tokens(ctx)
	if err != nil {
		return Token{}, fmt.Errorf("authenticating: %w", err)
	}
	// Every hash is compared, in constant time, and the loop does not
	// stop at a match: how long the answer takes says nothing about which
	// token, or how much of one, matched.
	h := hash(secret)
	found := -1
	for i, t := range all {
		if subtle.ConstantTimeCompare(h, t.Hash) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Token{}, ErrBadToken
	}
	t := all[found]
	if !t.Revoked.IsZero() {
		return view(t), fmt.Errorf("token %s was revoked: %w", t.Name, ErrBadToken)
	}
	if now := s.cfg.Now(); now.Sub(t.LastUsed) >= touchEvery {
		if err := s.cfg.Store.TouchToken(ctx, t.Name, now); err != nil && !errors.Is(err, context.Canceled) {
			s.cfg.Logger.Warn("recording a token's use", "token", t.Name, "err", err)
		}
		t.LastUsed = now
	}
	return view(t), nil
}

// Authorise authenticates secret and checks that its token's role allows
// need: fault.Unauthorised as Authenticate, fault.Forbidden when the role
// is too low (the token is returned then too, for the log).
func (s *Service) Authorise(ctx context.Context, secret string, need Role) (Token, error) {
	t, err := s.Authenticate(ctx, secret)
	if err != nil {
		return t, err
	}
	if !Allow(t.Role, need) {
		return t, fault.Forbiddenf("token %s has role %s; this needs %s", t.Name, t.Role, need)
	}
	return t, nil
}

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func view(t store.Token) Token {
	return Token{Name: t.Name, Role: Role(t.Role), Created: t.Created, LastUsed: t.LastUsed, Revoked: t.Revoked}
}
