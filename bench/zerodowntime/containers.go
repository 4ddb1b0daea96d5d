package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/docker"
	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/runtime"
	containers "github.com/velocity-ci/velocity/internal/runtime/docker"
	"github.com/velocity-ci/velocity/internal/runtime/docker/containertest"
)

// closer is a runtime the benchmark closes at the end.
type closer interface {
	runtime.Runtime
	Close(ctx context.Context) error
}

// containers connects to Docker, makes the images of releases A and B
// from the app at bin and returns the container runtime; cleanup removes
// the images and closes the client.
func (b *bench) containers(ctx context.Context, logger *slog.Logger, bin string) (closer, func(), error) {
	c, err := docker.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, img := range b.images {
			if img != "" {
				_, _ = c.ImageRemove(rctx, img, client.ImageRemoveOptions{Force: true})
			}
		}
		c.Close()
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return nil, cleanup, fmt.Errorf("the images are built on busybox (apt-get install busybox-static): %w", err)
	}
	fmt.Fprintln(os.Stderr, "building the images...")
	base, err := dockertest.BusyboxImage(ctx, c, busybox)
	if err != nil {
		return nil, cleanup, err
	}
	for i, version := range []string{"A", "B"} {
		if b.images[i], err = containertest.Image(ctx, c, base, bin, map[string][]byte{"version.txt": []byte(version + "\n")}); err != nil {
			return nil, cleanup, err
		}
	}
	rt, err := containers.New(ctx, containers.Config{Client: c, Logger: logger, Owner: fmt.Sprintf("bench-zerodowntime-%d", os.Getpid())})
	if err != nil {
		return nil, cleanup, err
	}
	return rt, cleanup, nil
}
