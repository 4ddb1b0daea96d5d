package sidecar_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/docker"
	"github.com/velocity-ci/velocity/internal/executor/route"
	"github.com/velocity-ci/velocity/internal/sidecar"
	"github.com/velocity-ci/velocity/internal/spec"
)

// containerWorkspace prepares a run whose image steps and container
// sidecars go to Docker, as velocity run does.
func containerWorkspace(t *testing.T) (executor.Workspace, string) {
	t.Helper()
	c := dockertest.Client(t)
	img := dockertest.Busybox(t)
	e := route.New(newExecutor(t), func(ctx context.Context) (route.Closer, error) {
		return docker.New(ctx, c, docker.Options{DefaultImage: img})
	})
	dir := t.TempDir()
	ws, err := e.Prepare(context.Background(), executor.Run{ID: "sidecar-test", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ws.Cleanup(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return ws, dir
}

const httpd = `mkdir -p /www && echo "hello $WHO" > /www/index.html && echo serving && exec httpd -f -p "$PORT" -h /www`

// A sidecar with an image runs as a container: ready when its port
// answers, or its ready script passes inside it; reached from the host by
// its address, from a container by its name; gone after Stop.
func TestContainerSidecar(t *testing.T) {
	img := dockertest.Busybox(t)
	ws, dir := containerWorkspace(t)
	for _, ready := range []string{"", `wget -q -O /dev/null "http://127.0.0.1:$PORT/"`} {
		for _, inContainer := range []bool{false, true} {
			log := &buffer{}
			opt := options(t, ws, log)
			opt.InContainer, opt.Action = inContainer, "test/action"
			g, err := sidecar.Start(context.Background(), []spec.Sidecar{{
				Name: "web", Image: img, Port: 8080, Run: httpd,
				Env:   map[string]string{"WHO": "sidecar"},
				Ready: spec.Ready{Run: ready},
			}}, opt)
			if err != nil {
				t.Fatal(err)
			}
			env := g.Env()
			host := strings.TrimPrefix(env[0], "WEB_HOST=")
			if inContainer && host != "web" || !inContainer && net.ParseIP(host) == nil || env[1] != "WEB_PORT=8080" {
				t.Fatalf("env %q (in a container: %v)", env, inContainer)
			}
			if inContainer {
				var out buffer
				res, err := ws.Run(context.Background(), executor.Step{
					Name: "test/action", Image: img, Dir: dir, Output: &out,
					Env:    append([]string{"PATH=/bin"}, env...),
					Script: `wget -q -O - "http://$WEB_ADDR/"`,
				})
				if err != nil || res.ExitCode != 0 || out.String() != "hello sidecar\n" {
					t.Fatalf("from a container: %v, %+v, %q", err, res, out.String())
				}
			} else {
				c, err := net.DialTimeout("tcp", strings.TrimPrefix(env[2], "WEB_ADDR="), 2*time.Second)
				if err != nil {
					t.Fatalf("from the host: %v", err)
				}
				c.Close()
			}
			if err := g.Stop(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "[sidecar web] serving") {
				t.Errorf("log %q", log.String())
			}
		}
	}
}

// A container sidecar that exits before it is ready fails the start with
// its output, as a host sidecar does.
func TestContainerSidecarFailing(t *testing.T) {
	img := dockertest.Busybox(t)
	ws, _ := containerWorkspace(t)
	_, err := sidecar.Start(context.Background(), []spec.Sidecar{{
		Name: "db", Image: img, Port: 5432, Run: "echo cannot start >&2; exit 3",
		Ready: spec.Ready{Timeout: 10 * time.Second, Interval: 50 * time.Millisecond},
	}}, options(t, ws, &buffer{}))
	var se *sidecar.StartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "exited with code 3") || !strings.Contains(err.Error(), "cannot start") {
		t.Fatalf("err %v", err)
	}
}
