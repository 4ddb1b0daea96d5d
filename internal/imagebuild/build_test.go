package imagebuild_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/imagebuild"
)

// syncBuffer is a log the build writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// write creates files under dir: path -> content.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// build runs a build whose image is removed when the test ends.
func build(t *testing.T, c *client.Client, req imagebuild.Request) (imagebuild.Image, string, error) {
	t.Helper()
	log := &syncBuffer{}
	req.Log = log
	req.Labels = map[string]string{"velocity-test": "imagebuild"}
	if req.Tags == nil {
		req.Tags = []string{"velocity-test/imagebuild:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))}
	}
	img, err := imagebuild.Build(context.Background(), c, req)
	if img.ID != "" {
		t.Cleanup(func() {
			c.ImageRemove(context.Background(), img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		})
	}
	return img, log.String(), err
}

// The context reaches the build as it is in the workspace: a symlink as
// a symlink (even one pointing out of the context), modes kept, and what
// .dockerignore names left out unless a "!" rule takes it back.
func TestBuildSendsTheContextAsItIs(t *testing.T) {
	c := dockertest.Client(t)
	base := dockertest.Busybox(t)
	outer := t.TempDir()
	write(t, outer, map[string]string{"secret.txt": "outside the context"})
	dir := filepath.Join(outer, "app")
	write(t, dir, map[string]string{
		"Dockerfile": "FROM " + base + "\nCOPY . /ctx\n" +
			"RUN ls -laR /ctx && test -L /ctx/out && [ \"$(readlink /ctx/out)\" = ../secret.txt ] " +
			"&& test -L /ctx/lib/current && test -x /ctx/run.sh && test ! -x /ctx/data.txt " +
			"&& test ! -e /ctx/build && test ! -e /ctx/notes.log && test -e /ctx/keep.log && ls /ctx/*code-xx*.txt && test -e /ctx/data.txt\n",
		".dockerignore": "# outputs of a local build\nbuild\n**/*.log\n!keep.log\n",
		"run.sh":        "#!/bin/sh\necho hi\n",
		"data.txt":      "data",
		"lib/v1/a.txt":  "a",
		"build/big.bin": "not sent",
		"notes.log":     "not sent",
		"keep.log":      "sent again",
		// Sorted first, and a name a plain tar header cannot hold.
		"!ünïcode-" + strings.Repeat("x", 100) + ".txt": "u",
	})
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../secret.txt", filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("v1", filepath.Join(dir, "lib", "current")); err != nil {
		t.Fatal(err)
	}
	img, log, err := build(t, c, imagebuild.Request{Context: dir})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if !strings.HasPrefix(img.ID, "sha256:") {
		t.Fatalf("image ID %q", img.ID)
	}
	if !strings.Contains(log, "COPY . /ctx") {
		t.Errorf("the log does not show the steps:\n%s", log)
	}
	got, err := c.ImageInspect(context.Background(), img.Tags[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != img.ID {
		t.Errorf("tag %s is %s, built %s", img.Tags[0], got.ID, img.ID)
	}
	if got.Config == nil || got.Config.Labels["velocity-test"] != "imagebuild" {
		t.Errorf("the image lacks its labels: %+v", got.Config)
	}
}

// Build arguments and the target stage reach the Dockerfile, and a
// Dockerfile outside the context is used.
func TestBuildArgsAndTarget(t *testing.T) {
	c := dockertest.Client(t)
	base := dockertest.Busybox(t)
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"ctx/hello.txt": "hello",
		"docker/Dockerfile": "FROM " + base + " AS first\nARG GREETING\nRUN test \"$GREETING\" = bonjour && echo greeting=$GREETING\n" +
			"FROM first AS second\nRUN echo never built; exit 1\n",
	})
	img, log, err := build(t, c, imagebuild.Request{
		Context:    filepath.Join(dir, "ctx"),
		Dockerfile: filepath.Join(dir, "docker", "Dockerfile"),
		Args:       map[string]string{"GREETING": "bonjour"},
		Target:     "first",
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if img.ID == "" || !strings.Contains(log, "greeting=bonjour") {
		t.Fatalf("image %q, log:\n%s", img.ID, log)
	}
}

// A failing RUN step fails the build with the engine's message and the
// step, with either builder; what the step printed is in the log.
func TestBuildFailingStep(t *testing.T) {
	c := dockertest.Client(t)
	base := dockertest.Busybox(t)
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"Dockerfile": "FROM " + base + "\nRUN echo fine\nRUN echo boom >&2; exit 3\n",
	})
	for _, tc := range []struct {
		name    string
		classic bool
		msg     string
	}{
		{"buildkit", false, "exit code: 3"},
		{"classic", true, "returned a non-zero code: 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, log, err := build(t, c, imagebuild.Request{Context: dir, Classic: tc.classic})
			var se *imagebuild.StepError
			if !errors.As(err, &se) {
				t.Fatalf("err %v (%T), want a StepError\n%s", err, err, log)
			}
			if !strings.Contains(se.Step, "RUN echo boom >&2; exit 3") || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("step %q, message %q", se.Step, se.Msg)
			}
			if !strings.Contains(log, "boom") {
				t.Errorf("the log lacks the step's output:\n%s", log)
			}
		})
	}
}

// The classic builder gets the same context and builds the image.
func TestBuildClassic(t *testing.T) {
	c := dockertest.Client(t)
	base := dockertest.Busybox(t)
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"Dockerfile":    "FROM " + base + "\nCOPY . /ctx\nRUN test -L /ctx/link && test ! -e /ctx/x.log && echo classic-ok\n",
		".dockerignore": "*.log\n",
		"x.log":         "left out",
	})
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	img, log, err := build(t, c, imagebuild.Request{Context: dir, Classic: true})
	if err != nil || !strings.HasPrefix(img.ID, "sha256:") || !strings.Contains(log, "classic-ok") {
		t.Fatalf("image %q, err %v\n%s", img.ID, err, log)
	}
}

// A missing Dockerfile is named before anything is sent.
func TestBuildMissingDockerfile(t *testing.T) {
	c := dockertest.Client(t)
	_, _, err := build(t, c, imagebuild.Request{Context: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "Dockerfile") {
		t.Fatalf("err %v", err)
	}
}

// Cancelling stops a running build promptly.
func TestBuildCancel(t *testing.T) {
	c := dockertest.Client(t)
	base := dockertest.Busybox(t)
	dir := t.TempDir()
	write(t, dir, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo sleeping; sleep 60\n"})
	ctx, cancel := context.WithCancel(context.Background())
	log := &syncBuffer{}
	go func() {
		for !strings.Contains(log.String(), "sleeping") {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	began := time.Now()
	_, err := imagebuild.Build(ctx, c, imagebuild.Request{Context: dir, Log: log, Tags: []string{"velocity-test/imagebuild:cancel"},
		Labels: map[string]string{"velocity-test": "imagebuild"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v\n%s", err, log)
	}
	if d := time.Since(began); d > 30*time.Second {
		t.Fatalf("the build took %v to stop", d)
	}
}
