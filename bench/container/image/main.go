// Command image prints the reference of the small busybox image the
// container benchmark runs, importing it into the engine first when it
// lacks it (no registry needed).
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/velocity-ci/velocity/internal/docker"
	"github.com/velocity-ci/velocity/internal/dockertest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	c, err := docker.Connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	bin, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("no busybox (apt-get install busybox-static): %w", err)
	}
	ref, err := dockertest.BusyboxImage(ctx, c, bin)
	if err != nil {
		return err
	}
	fmt.Println(ref)
	return nil
}
