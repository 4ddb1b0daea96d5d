package releases

import (
	"context"
	"fmt"

	"github.com/velocity-ci/velocity/internal/store"
)

// ImagesInUse lists the images ("sha256:..." IDs) that releases of the
// services deployed now run or may roll back to: every release in the
// journal of each service and environment that has a live one. The
// registry's collection keeps them (images.Kept), so that a rollback or
// a restart never finds its image collected.
func ImagesInUse(ctx context.Context, j store.Deployments) ([]string, error) {
	live, err := j.LiveDeployments(ctx)
	if err != nil {
		return nil, fmt.Errorf("images in use: %w", err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, l := range live {
		ds, err := j.Deployments(ctx, l.Environment, l.Service)
		if err != nil {
			return nil, fmt.Errorf("images in use: %w", err)
		}
		for _, d := range ds {
			def, err := decodeDefinition(d.Definition)
			if err != nil {
				return nil, fmt.Errorf("images in use: release %s of %s/%s: %w", d.Release, d.Environment, d.Service, err)
			}
			if id := def.ImageID; id != "" && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}
