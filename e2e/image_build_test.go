package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/dockertest"
)

// A build action builds an image from a directory of the workspace,
// tagged with the commit; a later action gets it as VELOCITY_IMAGE_APP.
// The next run takes the result from the cache without building, unless
// the image was removed from the engine in between.
func TestBuildActionImageIsCachedUntilRemoved(t *testing.T) {
	c := dockertest.Client(t)
	base := dockertest.Busybox(t)
	e := newEnv(t)
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := "e2e-build-" + hex.EncodeToString(suffix)
	dir := project(t, map[string]string{
		"velocity.yml": `name: ` + name + `
stages:
  - name: package
    actions:
      - name: app
        build:
          context: app
          args: {GREETING: bonjour}
  - name: check
    actions:
      - name: inspect
        run: |
          echo "built $VELOCITY_IMAGE_APP as $VELOCITY_IMAGE_APP_TAG"
          docker image inspect --format 'inspected {{.Id}}' "$VELOCITY_IMAGE_APP"
          docker run --rm "$VELOCITY_IMAGE_APP_TAG" cat /greeting
`,
		"app/Dockerfile":    "FROM " + base + "\nARG GREETING\nCOPY greeting.txt /greeting.src\nRUN echo \"$GREETING from $(cat /greeting.src)\" > /greeting\n",
		"app/greeting.txt":  "the image\n",
		"app/.dockerignore": "*.log\n",
		"app/build.log":     "left out of the context\n",
	})
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "c")
	commit := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))[:12]
	var ids []string
	t.Cleanup(func() {
		for _, id := range ids {
			c.ImageRemove(context.Background(), id, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		}
	})

	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	m := regexp.MustCompile(`built (sha256:[0-9a-f]{64}) as (\S+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("the later action did not get the image:\n%s", r.stdout)
	}
	id, tag := m[1], m[2]
	ids = append(ids, id)
	if want := name + "/app:" + commit; tag != want {
		t.Errorf("tag %q, want %q", tag, want)
	}
	if !strings.Contains(r.stdout, "inspected "+id) || !strings.Contains(r.stdout, "bonjour from the image") {
		t.Errorf("the image is not what was built:\n%s", r.stdout)
	}
	for _, ref := range []string{name + "/app:" + commit, name + "/app:latest"} {
		got, err := c.ImageInspect(context.Background(), ref)
		if err != nil || got.ID != id {
			t.Errorf("%s: %v, %v; want %s", ref, got.ID, err, id)
		}
	}

	r = e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "==> package/app cached: result of run 1") {
		t.Errorf("second run built the image again:\n%s", r.stdout)
	}

	if _, err := c.ImageRemove(context.Background(), id, client.ImageRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	r = e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("run after the image was removed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "package/app cached") {
		t.Errorf("the removed image was taken from the cache:\n%s", r.stdout)
	}
	got, err := c.ImageInspect(context.Background(), name+"/app:latest")
	if err != nil {
		t.Fatalf("the image was not built again: %v\n%s", err, r.stdout)
	}
	ids = append(ids, got.ID)
	if logs := e.run(dir, "logs", "last", "package/app"); !strings.Contains(logs.stdout, "no longer in the Docker Engine") {
		t.Errorf("the log does not say why the image was built again:\n%s%s", logs.stdout, logs.stderr)
	}
}
