package access_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

var ctx = context.Background()

// clock is a settable time for the service and the limiter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func service(t *testing.T) (*access.Service, *sqlite.Store, *clock, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "velocity.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return access.New(access.Config{Store: st, Now: c.now}), st, c, path
}

func TestRolesAreOrdered(t *testing.T) {
	for _, tc := range []struct {
		have, need access.Role
		want       bool
	}{
		{access.Viewer, access.Viewer, true},
		{access.Viewer, access.Developer, false},
		{access.Developer, access.Viewer, true},
		{access.Developer, access.Admin, false},
		{access.Admin, access.Developer, true},
		{"root", access.Viewer, false},
		{access.Admin, "", false},
	} {
		if got := access.Allow(tc.have, tc.need); got != tc.want {
			t.Errorf("Allow(%q, %q) = %v", tc.have, tc.need, got)
		}
	}
	if _, err := access.ParseRole("owner"); !errors.Is(err, fault.Invalid) {
		t.Errorf("ParseRole(owner): %v", err)
	}
}

func TestTokenIsShownOnceAndStoredHashed(t *testing.T) {
	svc, st, _, path := service(t)
	secret, err := svc.Create(ctx, "ci", access.Developer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "vel_") || len(secret) < 40 {
		t.Fatalf("secret %q", secret)
	}
	other, err := svc.Create(ctx, "alice", access.Admin)
	if err != nil || other == secret {
		t.Fatalf("second secret %q, %v", other, err)
	}
	rec, err := st.Token(ctx, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(secret)); !bytes.Equal(rec.Hash, sum[:]) {
		t.Errorf("stored hash %x, want the SHA-256 of the secret", rec.Hash)
	}
	st.Close()
	db, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(db, []byte(secret)) || bytes.Contains(db, []byte(strings.TrimPrefix(secret, "vel_"))) {
		t.Error("the database file holds the secret")
	}
}

func TestAuthenticate(t *testing.T) {
	svc, _, c, _ := service(t)
	dev, err := svc.Create(ctx, "ci", access.Developer)
	if err != nil {
		t.Fatal(err)
	}
	created := c.t
	c.t = c.t.Add(time.Hour)
	tok, err := svc.Authenticate(ctx, dev)
	if err != nil || tok.Name != "ci" || tok.Role != access.Developer || !tok.Created.Equal(created) {
		t.Fatalf("authenticate: %+v, %v", tok, err)
	}
	list, err := svc.List(ctx)
	if err != nil || len(list) != 1 || !list[0].LastUsed.Equal(c.t) {
		t.Fatalf("after use the list says %+v, %v; want last used %v", list, err, c.t)
	}
	for _, bad := range []string{"", "   ", dev + "x", strings.TrimPrefix(dev, "vel_"), "vel_nothing"} {
		if _, err := svc.Authenticate(ctx, bad); !errors.Is(err, fault.Unauthorised) {
			t.Errorf("authenticate %q: %v, want unauthorised", bad, err)
		}
	}
	if tok, err := svc.Authorise(ctx, dev, access.Admin); !errors.Is(err, fault.Forbidden) || tok.Name != "ci" {
		t.Errorf("developer doing an admin's work: %+v, %v; want forbidden, naming the token", tok, err)
	}
	if _, err := svc.Authorise(ctx, dev, access.Developer); err != nil {
		t.Errorf("developer doing a developer's work: %v", err)
	}
	if err := svc.Revoke(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	if tok, err := svc.Authenticate(ctx, dev); !errors.Is(err, fault.Unauthorised) || tok.Name != "ci" {
		t.Errorf("a revoked token: %+v, %v; want unauthorised, naming the token", tok, err)
	}
	if err := svc.Revoke(ctx, "nobody"); !errors.Is(err, fault.NotFound) {
		t.Errorf("revoking no token: %v", err)
	}
}

func TestCreateRefusesBadRequests(t *testing.T) {
	svc, _, _, _ := service(t)
	if _, err := svc.Create(ctx, "ci", access.Viewer); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, "ci", access.Admin); !errors.Is(err, fault.Conflict) {
		t.Errorf("a taken name: %v", err)
	}
	if _, err := svc.Create(ctx, "no spaces", access.Admin); !errors.Is(err, fault.Invalid) {
		t.Errorf("a bad name: %v", err)
	}
	if _, err := svc.Create(ctx, "ok", "root"); !errors.Is(err, fault.Invalid) {
		t.Errorf("a bad role: %v", err)
	}
	// A revoked token's name may be given to a new one.
	if err := svc.Revoke(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, "ci", access.Admin); err != nil {
		t.Errorf("reusing a revoked name: %v", err)
	}
}

func TestLimiterIsATokenBucketPerKey(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := &access.Limiter{Rate: 2, Burst: 3, Now: c.now}
	for i := range 3 {
		if ok, _ := l.Allow("ci"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("ci")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: %v, retry after %v; want refused, 500ms", ok, wait)
	}
	if ok, _ := l.Allow("alice"); !ok {
		t.Error("another key shares the bucket")
	}
	c.t = c.t.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("ci"); !ok {
		t.Error("refused after the bucket refilled one")
	}
	if ok, _ := l.Allow("ci"); ok {
		t.Error("allowed more than the rate")
	}
	c.t = c.t.Add(time.Hour)
	for i := range 4 {
		if ok, _ := l.Allow("ci"); ok != (i < 3) {
			t.Errorf("after a long pause, request %d: %v (the bucket holds at most the burst)", i+1, ok)
		}
	}
	var unlimited access.Limiter
	for range 100 {
		if ok, _ := unlimited.Allow("ci"); !ok {
			t.Fatal("the zero limiter refused")
		}
	}
}
