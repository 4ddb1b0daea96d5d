package runs

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/store"
)

// Outputs lists the files the actions of run produced, or only those of
// action when it is not nil, in the journal's order.
func (s *Service) Outputs(ctx context.Context, run int64, action *store.Key) ([]store.Output, error) {
	outs, err := s.cfg.Store.Outputs(ctx, run)
	if err != nil || action == nil {
		return outs, err
	}
	var kept []store.Output
	for _, o := range outs {
		if o.Stage == action.Stage && o.Action == action.Name {
			kept = append(kept, o)
		}
	}
	return kept, nil
}

// Extracted counts what Extract wrote, by kind.
type Extracted struct {
	Files, Symlinks, Dirs int
}

// Extract writes outs into dir (created if missing), each file verified
// against its digest. It needs the service's blob store; an output
// evicted from it is an error that says how to keep outputs longer.
func (s *Service) Extract(ctx context.Context, outs []store.Output, dir string) (Extracted, error) {
	if s.cfg.Blobs == nil {
		return Extracted{}, errors.New("extracting outputs: no blob store")
	}
	files, err := engine.OutputFiles(outs)
	if err != nil {
		return Extracted{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Extracted{}, err
	}
	if err := s.cfg.Blobs.Restore(dir, files); err != nil {
		if errors.Is(err, artifact.ErrNotFound) {
			return Extracted{}, fmt.Errorf("%w (evicted from the blob store: raise --cache-size to keep outputs longer)", err)
		}
		return Extracted{}, err
	}
	var n Extracted
	for _, f := range files {
		switch {
		case f.IsDir():
			n.Dirs++
		case f.IsSymlink():
			n.Symlinks++
		default:
			n.Files++
		}
	}
	return n, nil
}
