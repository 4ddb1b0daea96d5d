package containers_test

import (
	"context"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/runtime"
	containers "github.com/velocity-ci/velocity/internal/runtime/docker"
	"github.com/velocity-ci/velocity/internal/runtime/docker/containertest"
	"github.com/velocity-ci/velocity/internal/runtime/runtimetest"
)

// newRuntime is a runtime owned by the test alone, closed with it.
func newRuntime(t *testing.T) *containers.Runtime {
	t.Helper()
	r, err := containers.New(context.Background(), containers.Config{Client: dockertest.Client(t), Owner: "test-" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return r
}

// TestConformance runs the runtime suite with its server in an image.
func TestConformance(t *testing.T) {
	img := containertest.ServerImage(t, "../runtimetest/testserver")
	runtimetest.Run(t, runtimetest.Options{
		New:    func(t *testing.T) runtime.Runtime { return newRuntime(t) },
		Server: func(t *testing.T) runtime.Spec { return runtime.Spec{Image: img} },
		Images: true,
	})
}
