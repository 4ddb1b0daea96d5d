// Package containertest makes images of Go programs for the tests and
// benchmarks of the container runtime: a static build of a main package
// on top of dockertest's busybox image (so the image has a shell for
// Spec.Command), made by the engine's build API without a registry.
package containertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/proc"
)

// LabelTest marks the images made here, for clean-up by hand:
// docker image prune --filter label=velocity.test=1.
const LabelTest = "velocity.test"

// ServerImage builds the main package pkg (a path go build accepts, run in
// the current directory) statically and returns an image running it, built
// from dockertest.Busybox. The image is removed when the test ends.
func ServerImage(t testing.TB, pkg string) string {
	t.Helper()
	base := dockertest.Busybox(t)
	c := dockertest.Client(t)
	bin := filepath.Join(t.TempDir(), "server")
	if err := GoBuild(pkg, bin); err != nil {
		t.Fatal(err)
	}
	ref, err := Image(context.Background(), c, base, bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = c.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true})
	})
	return ref
}

// GoBuild builds pkg as a static binary at out.
func GoBuild(pkg, out string) error {
	var log bytes.Buffer
	p, err := proc.Start(context.Background(), proc.Spec{
		Path: "go", Args: []string{"build", "-o", out, pkg},
		Env:    append(os.Environ(), "CGO_ENABLED=0"),
		Stdout: &log, Stderr: &log,
	})
	if err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	exit, err := p.Wait()
	if err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	if !exit.Success() {
		return fmt.Errorf("go build %s: %s\n%s", pkg, exit, log.Bytes())
	}
	return nil
}

// Image builds an image FROM base with the binary bin as /server and its
// command, and the files of extra (name to content) beside it in /,
// tagged from their hash, and returns its reference.
func Image(ctx context.Context, c *client.Client, base, bin string, extra map[string][]byte) (string, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	type file struct {
		name string
		mode int64
		data []byte
	}
	dockerfile := fmt.Sprintf("FROM %s\nCOPY server /server\n", base)
	files := []file{{"server", 0o755, data}}
	for _, name := range slices.Sorted(maps.Keys(extra)) {
		dockerfile += fmt.Sprintf("COPY %s /%s\n", name, name)
		files = append(files, file{name, 0o644, extra[name]})
	}
	dockerfile += "CMD [\"/server\"]\n"
	files = append(files, file{"Dockerfile", 0o644, []byte(dockerfile)})
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s %d %d\n", f.name, f.mode, len(f.data))
		h.Write(f.data)
	}
	ref := "velocity-test/server:" + hex.EncodeToString(h.Sum(nil)[:6])
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	res, err := c.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{ref}, Remove: true, ForceRemove: true,
		Labels: map[string]string{LabelTest: "1"}})
	if err != nil {
		return "", fmt.Errorf("build %s: %w", ref, err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return ref, nil
		} else if err != nil {
			return "", fmt.Errorf("build %s: %w", ref, err)
		}
		if msg.Error != "" {
			return "", fmt.Errorf("build %s: %s", ref, msg.Error)
		}
	}
}
