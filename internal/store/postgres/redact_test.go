package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store/postgres"
)

// A password never reaches a message, whatever the form of the
// connection string, including the ones Open cannot read.
func TestRedactHidesEveryPassword(t *testing.T) {
	for _, conn := range []string{
		"postgres://velocity:s3cret@db.example.com:5432/velocity",
		"postgres://velocity:p%40s3cret@db.example.com/velocity",
		"postgresql://velocity:s3cret@db/velocity?sslmode=bogus",
		"postgres://velocity:s3cret@db:99999/velocity",
		"postgres://velocity@db/velocity?password=s3cret&sslmode=disable",
		"host=db user=velocity password=s3cret dbname=velocity",
		"host=db user=velocity password='s3 cret' dbname=velocity",
		"host=db PASSWORD = s3cret",
		"postgres://velocity:s3cret@[::1/velocity",
	} {
		got := postgres.Redact(conn)
		if strings.Contains(got, "s3") || strings.Contains(got, "cret") {
			t.Errorf("Redact(%q) = %q", conn, got)
		}
	}
	// Open quotes what it cannot read in its error.
	for _, conn := range []string{
		"postgresql://velocity:s3cret@127.0.0.1/velocity?sslmode=bogus",
		"postgres://velocity:s3cret@127.0.0.1:99999/velocity",
		"postgres://velocity:s3cret@[::1/velocity",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := postgres.Open(ctx, conn)
		cancel()
		if err == nil || strings.Contains(err.Error(), "s3") || strings.Contains(err.Error(), "cret") {
			t.Errorf("Open(%q): %v", conn, err)
		}
	}
	if got := postgres.Redact("postgres://velocity@db/velocity"); got != "postgres://velocity@db/velocity" {
		t.Errorf("a URL without a password changed: %q", got)
	}
}
