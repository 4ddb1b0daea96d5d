package imagebuild_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/imagebuild"
)

// A push names the image under the registry's host and reports the
// engine's failure to reach it.
func TestPushToAnUnreachableRegistry(t *testing.T) {
	c := dockertest.Client(t)
	base := dockertest.Busybox(t)
	got, err := c.ImageInspect(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on: taken, then released.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	ref := host + "/velocity-test/imagebuild:push"
	t.Cleanup(func() { c.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{}) })
	var log bytes.Buffer
	pushed, err := imagebuild.Push(context.Background(), c, imagebuild.Image{ID: got.ID, Tags: []string{"velocity-test/imagebuild:push"}},
		imagebuild.RegistryEndpoint{Host: host, Username: "u", Password: "p"}, &log)
	if err == nil || !strings.Contains(err.Error(), ref) {
		t.Fatalf("pushed %v, err %v\n%s", pushed, err, log.String())
	}
	if tagged, err := c.ImageInspect(context.Background(), ref); err != nil || tagged.ID != got.ID {
		t.Errorf("%s not tagged: %v", ref, err)
	}
}
