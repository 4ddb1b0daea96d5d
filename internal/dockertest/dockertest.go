// Package dockertest gives tests a Docker Engine and a small image to
// run in it, without a registry: the image is made from the host's
// busybox-static binary, so tests work on machines that reach no
// public registry (CI included).
//
// Without an engine the tests that need one are skipped, except under
// CI=true, where they fail: CI must not pass by running nothing.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/docker"
)

// Client returns a client of the engine the tests use (DOCKER_HOST, else
// the local socket), closed when the test ends.
func Client(t testing.TB) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := docker.Connect(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no Docker Engine: %v", err)
		}
		t.Skipf("no Docker Engine: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// applets are the busybox commands the image links; what tests and
// example scripts use.
var applets = []string{
	"sh", "ash", "env", "echo", "printf", "cat", "ls", "id", "true", "false", "sleep",
	"kill", "ps", "mkdir", "rm", "rmdir", "cp", "mv", "ln", "test", "[", "grep", "sed",
	"awk", "head", "tail", "wc", "date", "touch", "chmod", "chown", "seq", "tr", "sort",
	"uniq", "find", "xargs", "basename", "dirname", "pwd", "stat", "timeout", "nohup",
	"tee", "readlink", "hostname", "uname", "sha256sum", "tar", "gzip", "wget", "httpd",
	"nc", "whoami", "trap", "yes", "dd", "du", "df", "expr", "pidof", "pkill", "setsid",
	"nslookup", "ping", "vi", "which", "cut", "od", "hexdump", "mktemp", "realpath",
}

// Busybox returns the reference of an image with busybox's shell and
// tools in /bin, users root (0) and nobody (65534), and a /tmp, building
// it first when the engine lacks it. Its tag is derived from the busybox
// binary, so a new busybox makes a new image.
func Busybox(t testing.TB) string {
	t.Helper()
	c := Client(t)
	bin, err := exec.LookPath("busybox")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no busybox (apt-get install busybox-static): %v", err)
		}
		t.Skipf("no busybox to build a test image from (apt-get install busybox-static): %v", err)
	}
	ref, err := BusyboxImage(context.Background(), c, bin)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// BusyboxImage makes the image Busybox returns from the static busybox
// binary at bin; benchmarks use it without a testing.TB.
func BusyboxImage(ctx context.Context, c *client.Client, bin string) (string, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("read busybox: %w", err)
	}
	sum := sha256.Sum256(data)
	ref := "velocity-test/busybox:" + hex.EncodeToString(sum[:6])
	if _, err := c.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	}
	root, err := rootfs(data)
	if err != nil {
		return "", err
	}
	res, err := c.ImageImport(ctx, client.ImageImportSource{Source: bytes.NewReader(root), SourceName: "-"}, ref, client.ImageImportOptions{})
	if err != nil {
		return "", fmt.Errorf("import %s: %w", ref, err)
	}
	defer res.Close()
	if _, err := io.Copy(io.Discard, res); err != nil {
		return "", fmt.Errorf("import %s: %w", ref, err)
	}
	return ref, nil
}

// rootfs is the image's file system as a tar archive.
func rootfs(busybox []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Unix(0, 0)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: now})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	steps := []func() error{
		func() error { return dir("bin", 0o755) },
		func() error { return dir("etc", 0o755) },
		func() error { return dir("tmp", 0o1777) },
		func() error { return dir("root", 0o700) },
		func() error { return file("bin/busybox", 0o755, busybox) },
		func() error {
			return file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/bin/sh\n"))
		},
		func() error { return file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")) },
	}
	for _, a := range applets {
		steps = append(steps, func() error {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: now})
		})
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("build the busybox image: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("build the busybox image: %w", err)
	}
	return buf.Bytes(), nil
}
