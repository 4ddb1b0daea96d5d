package runs

import (
	"context"
	"errors"

	"github.com/velocity-ci/velocity/internal/explain"
	"github.com/velocity-ci/velocity/internal/store"
)

// Explain says why action k of run executed instead of coming from the
// result cache. It needs the service's blob store, where the key details
// of earlier runs are kept.
func (s *Service) Explain(ctx context.Context, run store.Run, k store.Key) (explain.Explanation, error) {
	if s.cfg.Blobs == nil {
		return explain.Explanation{}, errors.New("explaining a cache miss: no blob store")
	}
	return explain.Explain(ctx, s.cfg.Store, s.cfg.Blobs, run, k)
}
