package imagebuild

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	mobyregistry "github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/registry"
)

// RegistryEndpoint is a registry pushes go to, with its credentials:
// Velocity's own (registry.OnDemand gives one) or any other.
type RegistryEndpoint = registry.Endpoint

// Push tags img under the registry's host (HOST/NAME:TAG for each of its
// tags) and pushes each of those names, writing what the engine reports
// to log. It returns the pushed references.
func Push(ctx context.Context, c *client.Client, img Image, to RegistryEndpoint, log io.Writer) ([]string, error) {
	if log == nil {
		log = io.Discard
	}
	auth, err := json.Marshal(mobyregistry.AuthConfig{Username: to.Username, Password: to.Password, ServerAddress: to.Host})
	if err != nil {
		return nil, err
	}
	encoded := base64.URLEncoding.EncodeToString(auth)
	var pushed []string
	for _, tag := range img.Tags {
		ref := to.Host + "/" + tag
		if _, err := c.ImageTag(ctx, client.ImageTagOptions{Source: img.ID, Target: ref}); err != nil {
			return pushed, fmt.Errorf("tag %s: %w", ref, err)
		}
		fmt.Fprintf(log, "pushing %s\n", ref)
		res, err := c.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: encoded})
		if err != nil {
			return pushed, fmt.Errorf("push %s: %w", ref, err)
		}
		err = showPush(ctx, res, log)
		res.Close()
		if err != nil {
			return pushed, fmt.Errorf("push %s: %w", ref, err)
		}
		pushed = append(pushed, ref)
	}
	return pushed, nil
}

// showPush writes a push's status lines, without the byte counters that
// repeat for every chunk of a layer.
func showPush(ctx context.Context, res client.ImagePushResponse, log io.Writer) error {
	for m, err := range res.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if m.Error != nil {
			return fmt.Errorf("%s", m.Error.Message)
		}
		if m.Progress != nil && m.Progress.Total > 0 || m.Status == "" {
			continue
		}
		if m.ID != "" {
			fmt.Fprintf(log, "%s: %s\n", m.ID, strings.TrimSpace(m.Status))
		} else {
			fmt.Fprintf(log, "%s\n", strings.TrimSpace(m.Status))
		}
	}
	return nil
}
