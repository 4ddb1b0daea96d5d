package home

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store/postgres"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// openJournal opens the store cfg names: the data directory's SQLite file
// by default, or the PostgreSQL database at cfg.Store, which several
// velocity processes on several machines can share.
func openJournal(ctx context.Context, cfg Config) (Journal, error) {
	switch {
	case cfg.Store == "":
		st, err := sqlite.Open(ctx, filepath.Join(cfg.Dir, "velocity.db"))
		if err != nil {
			return nil, err
		}
		return st, nil
	case strings.HasPrefix(cfg.Store, "postgres://"), strings.HasPrefix(cfg.Store, "postgresql://"):
		st, err := postgres.Open(ctx, cfg.Store)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	return nil, fault.Invalidf("store %q is not a PostgreSQL URL (postgres://USER@HOST/DATABASE); leave it empty for the data directory's SQLite journal",
		postgres.Redact(cfg.Store))
}
