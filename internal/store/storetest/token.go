package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// RunTokens runs the tokens' suite; open returns an empty store for each
// subtest.
func RunTokens(t *testing.T, open func(t *testing.T) store.Tokens) {
	t.Run("CreateGetList", func(t *testing.T) { testTokenCreate(t, open(t)) })
	t.Run("NameTakenUntilRevoked", func(t *testing.T) { testTokenNameTaken(t, open(t)) })
	t.Run("RevokeAndTouch", func(t *testing.T) { testTokenRevokeTouch(t, open(t)) })
	t.Run("ConcurrentCreateOneWins", func(t *testing.T) { testTokenConcurrentCreate(t, open(t)) })
}

var tokenT0 = time.Unix(2_000_000, 0)

func sameToken(a, b store.Token) bool {
	return a.Name == b.Name && a.Role == b.Role && bytes.Equal(a.Hash, b.Hash) &&
		a.Created.Equal(b.Created) && a.LastUsed.Equal(b.LastUsed) && a.Revoked.Equal(b.Revoked)
}

func testTokenCreate(t *testing.T, s store.Tokens) {
	if _, err := s.Token(ctx, "ci"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token never created: %v, want not found", err)
	}
	if list, err := s.Tokens(ctx); err != nil || len(list) != 0 {
		t.Fatalf("empty store lists %v, %v", list, err)
	}
	ci := store.Token{Name: "ci", Role: "developer", Hash: bytes.Repeat([]byte{1}, 32), Created: tokenT0}
	alice := store.Token{Name: "alice", Role: "admin", Hash: bytes.Repeat([]byte{2}, 32), Created: tokenT0.Add(time.Second)}
	for _, tok := range []store.Token{ci, alice} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Token(ctx, "ci")
	if err != nil || !sameToken(got, ci) {
		t.Fatalf("token ci: %+v, %v; want %+v", got, err, ci)
	}
	if !got.LastUsed.IsZero() || !got.Revoked.IsZero() {
		t.Errorf("a new token: last used %v, revoked %v; want both zero", got.LastUsed, got.Revoked)
	}
	list, err := s.Tokens(ctx)
	if err != nil || len(list) != 2 || !sameToken(list[0], alice) || !sameToken(list[1], ci) {
		t.Fatalf("tokens: %+v, %v; want alice then ci", list, err)
	}
}

func testTokenNameTaken(t *testing.T, s store.Tokens) {
	first := store.Token{Name: "ci", Role: "viewer", Hash: []byte("first"), Created: tokenT0}
	if err := s.CreateToken(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := store.Token{Name: "ci", Role: "admin", Hash: []byte("second"), Created: tokenT0.Add(time.Minute)}
	if err := s.CreateToken(ctx, second); !errors.Is(err, fault.Conflict) {
		t.Fatalf("a second token named ci: %v, want a conflict", err)
	}
	if got, _ := s.Token(ctx, "ci"); !sameToken(got, first) {
		t.Fatalf("the refused creation changed the token: %+v", got)
	}
	// Once revoked, the name may be given to a new secret.
	if err := s.RevokeToken(ctx, "ci", tokenT0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, second); err != nil {
		t.Fatalf("a new token in a revoked one's name: %v", err)
	}
	if got, _ := s.Token(ctx, "ci"); !sameToken(got, second) {
		t.Fatalf("the new token is %+v, want %+v", got, second)
	}
}

func testTokenRevokeTouch(t *testing.T, s store.Tokens) {
	if err := s.RevokeToken(ctx, "nobody", tokenT0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking no token: %v, want not found", err)
	}
	if err := s.TouchToken(ctx, "nobody", tokenT0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("touching no token: %v, want not found", err)
	}
	tok := store.Token{Name: "ci", Role: "developer", Hash: []byte("h"), Created: tokenT0}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	used := tokenT0.Add(time.Hour)
	if err := s.TouchToken(ctx, "ci", used); err != nil {
		t.Fatal(err)
	}
	revoked := tokenT0.Add(2 * time.Hour)
	if err := s.RevokeToken(ctx, "ci", revoked); err != nil {
		t.Fatal(err)
	}
	// Revoking again keeps the first time: it says when access ended.
	if err := s.RevokeToken(ctx, "ci", revoked.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Token(ctx, "ci")
	if err != nil || !got.LastUsed.Equal(used) || !got.Revoked.Equal(revoked) {
		t.Fatalf("token %+v, %v; want used at %v, revoked at %v", got, err, used, revoked)
	}
}

func testTokenConcurrentCreate(t *testing.T, s store.Tokens) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateToken(ctx, store.Token{Name: "ci", Role: "viewer", Hash: []byte{byte(i)}, Created: tokenT0})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, fault.Conflict):
			t.Errorf("a losing creation: %v, want a conflict", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d creations of one name succeeded, want 1", ok, n)
	}
}
