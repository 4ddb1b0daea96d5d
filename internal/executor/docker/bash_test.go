package docker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/executor"
)

// bashImage is the test image plus the host's bash and the libraries it
// links, removed when the test ends.
func bashImage(t *testing.T) string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on the host to put in an image")
	}
	ldd, err := exec.Command("ldd", bash).Output()
	if err != nil {
		t.Skipf("ldd %s: %v", bash, err)
	}
	files := []string{bash}
	for _, line := range strings.Split(string(ldd), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			files = append(files, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			files = append(files, f[0])
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		real, err := filepath.EvalSymlinks(f)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(real)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(f, "/")
		for d := filepath.Dir(name); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755})
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(data))})
		tw.Write(data)
	}
	tw.Close()

	c := dockertest.Client(t)
	ctx := context.Background()
	cr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: dockertest.Busybox(t), Cmd: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.ContainerRemove(ctx, cr.ID, client.ContainerRemoveOptions{Force: true})
	if _, err := c.CopyToContainer(ctx, cr.ID, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf}); err != nil {
		t.Fatal(err)
	}
	ref := "velocity-test/bash:" + strings.ToLower(t.Name())
	if _, err := c.ContainerCommit(ctx, cr.ID, client.ContainerCommitOptions{Reference: ref}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true}) })
	return ref
}

// In an image with bash, a script runs with bash -eo pipefail: a failure
// in the middle of a pipeline fails the step.
func TestScriptRunsWithBashWhenTheImageHasIt(t *testing.T) {
	img := bashImage(t)
	e := newExecutor(t)
	ws, dir := prepare(t, e)
	res, out := run(t, ws, executor.Step{Image: img, Dir: dir, Env: []string{"PATH=/usr/bin:/bin"}, Script: `echo "bash ${BASH_VERSION%%.*}"`})
	if res.ExitCode != 0 || !strings.HasPrefix(out, "bash ") || out == "bash \n" {
		t.Fatalf("exit %d, output %q: not bash", res.ExitCode, out)
	}
	res, out = run(t, ws, executor.Step{Image: img, Dir: dir, Env: []string{"PATH=/usr/bin:/bin"}, Script: "false | cat\necho after"})
	if res.ExitCode == 0 || strings.Contains(out, "after") {
		t.Fatalf("pipefail: exit %d, output %q", res.ExitCode, out)
	}
}
