package postgres

import (
	"context"
	"fmt"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/column"
)

// SetImage implements store.Store.
func (s *Store) SetImage(ctx context.Context, runID int64, img store.Image) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO images (run_id, stage, action, id, tags, pushed) VALUES ($1, $2, $3, $4, $5, $6)
		 ON CONFLICT (run_id, stage, action) DO UPDATE SET id = excluded.id, tags = excluded.tags, pushed = excluded.pushed`,
		runID, img.Stage, img.Action, img.ID, column.EncodeList(img.Tags), column.EncodeList(img.Pushed))
	if err != nil {
		return fmt.Errorf("record image of %s/%s: %w", img.Stage, img.Action, err)
	}
	return nil
}

// Images implements store.Store.
func (s *Store) Images(ctx context.Context, runID int64) ([]store.Image, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT i.stage, i.action, i.id, i.tags, i.pushed FROM images i
		 JOIN actions a ON a.run_id = i.run_id AND a.stage = i.stage AND a.name = i.action
		 WHERE i.run_id = $1 ORDER BY a.seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("images of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []store.Image
	for rows.Next() {
		var img store.Image
		var tags, pushed string
		if err := rows.Scan(&img.Stage, &img.Action, &img.ID, &tags, &pushed); err != nil {
			return nil, fmt.Errorf("images of run %d: %w", runID, err)
		}
		var err error
		if img.Tags, err = column.DecodeList(tags); err != nil {
			return nil, fmt.Errorf("images of run %d: tags of %s/%s: %w", runID, img.Stage, img.Action, err)
		}
		if img.Pushed, err = column.DecodeList(pushed); err != nil {
			return nil, fmt.Errorf("images of run %d: pushed of %s/%s: %w", runID, img.Stage, img.Action, err)
		}
		out = append(out, img)
	}
	return out, rows.Err()
}
