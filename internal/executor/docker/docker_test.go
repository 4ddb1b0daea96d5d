package docker_test

import (
	"context"
	"testing"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/docker"
	"github.com/velocity-ci/velocity/internal/executor/executortest"
)

// newExecutor makes an executor whose default image is the test image.
func newExecutor(t *testing.T) *docker.Executor {
	t.Helper()
	img := dockertest.Busybox(t)
	e, err := docker.New(context.Background(), dockertest.Client(t), docker.Options{DefaultImage: img})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestConformance(t *testing.T) {
	img := dockertest.Busybox(t)
	executortest.RunWith(t, executortest.Options{
		New:   func(t *testing.T) executor.Executor { return newExecutor(t) },
		Image: img,
	})
}
