package registry_test

import (
	"testing"

	"github.com/velocity-ci/velocity/internal/registry"
)

func TestFindImageByItsConfig(t *testing.T) {
	c, st := newRegistry(t)
	first := c.pushImage("team/app", "v1", `{"app":1}`, "layer-1")
	second := c.pushImage("team/app", "v2", `{"app":2}`, "layer-2")
	other := c.pushImage("team/db", "v1", `{"db":1}`, "layer-3")
	for _, tc := range []struct {
		config, repo, manifest string
	}{
		{`{"app":1}`, "team/app", first},
		{`{"app":2}`, "team/app", second},
		{`{"db":1}`, "team/db", other},
	} {
		got, ok, err := st.FindImage(registry.Sha256([]byte(tc.config)))
		if err != nil || !ok {
			t.Fatalf("FindImage(%s) = %v, %v", tc.config, ok, err)
		}
		if got.Repo != tc.repo || got.Manifest.String() != tc.manifest {
			t.Errorf("FindImage(%s) = %s@%s, want %s@%s", tc.config, got.Repo, got.Manifest, tc.repo, tc.manifest)
		}
	}
	// A layer's digest is no image ID.
	if got, ok, err := st.FindImage(registry.Sha256([]byte("layer-1"))); ok || err != nil {
		t.Errorf("FindImage(a layer) = %+v, %v, %v; want not found", got, ok, err)
	}
}
