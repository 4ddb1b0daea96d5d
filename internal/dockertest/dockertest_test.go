package dockertest_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/dockertest"
)

// The image runs a shell with the tools tests rely on, as a user that
// exists in it.
func TestBusyboxImageRunsAShell(t *testing.T) {
	c := dockertest.Client(t)
	ref := dockertest.Busybox(t)
	ctx := context.Background()
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{
		Image: ref, User: "nobody", Cmd: []string{"sh", "-c", "whoami; echo $((6*7)) | tr 4 X"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
	if _, err := c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	w := c.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{})
	select {
	case res := <-w.Result:
		if res.StatusCode != 0 {
			t.Fatalf("exit %d", res.StatusCode)
		}
	case err := <-w.Error:
		t.Fatal(err)
	}
	logs, err := c.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var out bytes.Buffer
	out.ReadFrom(logs)
	// The log stream is multiplexed: 8-byte frame headers precede the text.
	if !bytes.Contains(out.Bytes(), []byte("nobody")) || !bytes.Contains(out.Bytes(), []byte("X2")) {
		t.Fatalf("output %q", out.Bytes())
	}
}
