package engine_test

import (
	"testing"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/store"
)

// The variable a build action's image reaches later actions through is
// a name a shell can expand.
func TestImageEnv(t *testing.T) {
	for action, want := range map[string]string{
		"app":        "VELOCITY_IMAGE_APP",
		"web-app":    "VELOCITY_IMAGE_WEB_APP",
		"api.v2":     "VELOCITY_IMAGE_API_V2",
		"Image_Mine": "VELOCITY_IMAGE_IMAGE_MINE",
	} {
		if got := engine.ImageEnv(action); got != want {
			t.Errorf("ImageEnv(%q) = %q, want %q", action, got, want)
		}
	}
}

// A service's from finds the image of its build action, by action name
// alone or with its stage.
func TestImageOf(t *testing.T) {
	images := []store.Image{
		{Stage: "build", Action: "app", ID: "sha256:aa"},
		{Stage: "release", Action: "app", ID: "sha256:bb"},
		{Stage: "build", Action: "worker", ID: "sha256:cc"},
	}
	for from, want := range map[string]string{"app": "sha256:aa", "release/app": "sha256:bb", "worker": "sha256:cc", "build/worker": "sha256:cc"} {
		if got, ok := engine.ImageOf(images, from); !ok || got.ID != want {
			t.Errorf("ImageOf(%q) = %+v, %v; want %s", from, got, ok, want)
		}
	}
	if _, ok := engine.ImageOf(images, "release/worker"); ok {
		t.Error("found an image for an action that built none in that stage")
	}
}
