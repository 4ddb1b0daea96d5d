// Package pgtest gives tests a PostgreSQL schema of their own on the
// server named by VELOCITY_TEST_POSTGRES_URL (.ci/postgres starts one and
// prints its URL).
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver for database/sql
)

// EnvURL names the variable holding the test server's URL.
const EnvURL = "VELOCITY_TEST_POSTGRES_URL"

// ServerURL returns the test server's URL. Without one the test skips,
// except under CI=true, where a missing database is a failure.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		const msg = EnvURL + " is not set: start a server with `bash .ci/postgres` and export the URL it prints"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return u
}

// Schema creates an empty schema for one test, dropped when the test
// ends, and returns the URL of the test database with that schema as its
// search path: each test sees only its own rows.
func Schema(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var b [6]byte
	rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema on the server of %s: %v", EnvURL, err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
