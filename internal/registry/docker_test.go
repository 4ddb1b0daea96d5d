package registry_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	moby "github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/registry"
)

// TestOnDemandTakesAnEnginePush: the Docker Engine pushes an image to an
// on-demand endpoint with its credential, as an image build of a run
// does, and is refused without it.
func TestOnDemandTakesAnEnginePush(t *testing.T) {
	c := dockertest.Client(t)
	image := dockertest.Busybox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := registry.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	od := &registry.OnDemand{Storage: st}
	defer od.Close()
	ep, err := od.Endpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("t%d", time.Now().UnixNano())
	ref := ep.Host + "/run/busybox:" + tag
	if _, err := c.ImageTag(ctx, moby.ImageTagOptions{Source: image, Target: ref}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ImageRemove(context.Background(), ref, moby.ImageRemoveOptions{Force: true}) })

	push := func(password string) error {
		auth, _ := json.Marshal(map[string]string{"username": ep.Username, "password": password, "serveraddress": ep.Host})
		resp, err := c.ImagePush(ctx, ref, moby.ImagePushOptions{RegistryAuth: base64.URLEncoding.EncodeToString(auth)})
		if err != nil {
			return err
		}
		return resp.Wait(ctx)
	}
	if err := push("not-the-password"); err == nil {
		t.Fatal("a push with the wrong password succeeded")
	}
	if err := push(ep.Password); err != nil {
		t.Fatalf("push to the on-demand endpoint: %v", err)
	}
	tags, err := st.Tags("run/busybox")
	if err != nil || tags[tag] == "" {
		t.Fatalf("tags after the push: %v, %v", tags, err)
	}
}
