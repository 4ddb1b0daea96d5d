package store

import (
	"context"
	"time"
)

// Token is an API token: a name people use for it, the role it grants,
// and the SHA-256 of its secret. The secret itself is shown once, when
// the token is made, and is never kept: whoever reads the store learns
// which tokens exist, not how to present one.
type Token struct {
	// Name is unique among the tokens that are not revoked.
	Name string `json:"name"`
	// Role is what the token may do (viewer, developer, admin); the
	// store keeps it as given, the access service gives it meaning.
	Role string `json:"role"`
	// Hash is the SHA-256 of the secret.
	Hash []byte `json:"hash"`
	// Created is when the token was made.
	Created time.Time `json:"created"`
	// LastUsed is when the token last authenticated a request; zero
	// when never.
	LastUsed time.Time `json:"last_used"`
	// Revoked is when the token was revoked; zero while it is valid.
	Revoked time.Time `json:"revoked"`
}

// Tokens keeps API tokens, beside the Store in the same implementations
// and checked by the storetest suite (RunTokens). Methods are safe for
// concurrent use, also from several processes. Times are the caller's.
type Tokens interface {
	// CreateToken records t. A token of the same name that is not
	// revoked is an error wrapping fault.Conflict; a revoked one is
	// replaced, so a name can be given to a new secret after its old one
	// was revoked.
	CreateToken(ctx context.Context, t Token) error
	// Token returns the token named name, revoked or not, or an error
	// wrapping ErrNotFound.
	Token(ctx context.Context, name string) (Token, error)
	// Tokens returns every token, revoked ones too, ordered by name.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks the token named name revoked at at; one revoked
	// already keeps its first revocation time. No such token is an error
	// wrapping ErrNotFound.
	RevokeToken(ctx context.Context, name string, at time.Time) error
	// TouchToken records that the token named name was used at at. No
	// such token is an error wrapping ErrNotFound.
	TouchToken(ctx context.Context, name string, at time.Time) error
}
