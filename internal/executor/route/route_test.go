package route_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/executor/route"
)

// Steps without an image run on the host and never make the container
// executor; a step with one fails, naming itself and its image, when the
// container executor cannot be made, and so does every later one.
func TestRoute(t *testing.T) {
	host, err := local.New()
	if err != nil {
		t.Fatal(err)
	}
	made := 0
	e := route.New(host, func(context.Context) (route.Closer, error) {
		made++
		return nil, errors.New("no engine here")
	})
	defer e.Close()
	dir := t.TempDir()
	ws, err := e.Prepare(context.Background(), executor.Run{ID: "r", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Cleanup(context.Background())
	res, err := ws.Run(context.Background(), executor.Step{Name: "s/host", Script: "true", Dir: dir})
	if err != nil || res.ExitCode != 0 || made != 0 {
		t.Fatalf("host step: %v, %+v; container executor made %d times", err, res, made)
	}
	for range 2 {
		_, err = ws.Run(context.Background(), executor.Step{Name: "s/img", Script: "true", Dir: dir, Image: "alpine:3"})
		if err == nil || !strings.Contains(err.Error(), "s/img runs in image alpine:3: no engine here") {
			t.Fatalf("image step: %v", err)
		}
	}
	if made != 1 {
		t.Errorf("container executor made %d times, want once", made)
	}
}

// Sidecars go with a step only where the image executor runs them
// inside it (WithSidecars): the capability says so before that executor
// is made, and a step with sidecars elsewhere is refused.
func TestRouteSidecars(t *testing.T) {
	host, err := local.New()
	if err != nil {
		t.Fatal(err)
	}
	images := func(context.Context) (route.Closer, error) { return nil, errors.New("no engine here") }
	if route.New(host, images).Capabilities().Sidecars {
		t.Error("sidecars inside steps without WithSidecars")
	}
	e := route.New(host, images).WithSidecars()
	defer e.Close()
	if !e.Capabilities().Sidecars {
		t.Error("no sidecars inside steps after WithSidecars")
	}
	dir := t.TempDir()
	ws, err := e.Prepare(context.Background(), executor.Run{ID: "r", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Cleanup(context.Background())
	_, err = ws.Run(context.Background(), executor.Step{Name: "s/host", Script: "true", Dir: dir,
		Sidecars: []executor.Sidecar{{Name: "db", Image: "postgres:17", Port: 5432}}})
	if !errors.Is(err, executor.ErrUnsupported) || !strings.Contains(err.Error(), "s/host: sidecars") {
		t.Fatalf("host step with sidecars: %v", err)
	}
}
