package kube_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/kube"
	kubeapi "github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/kubetest"
)

// httpd serves "$STATE $WHO" on $PORT; the state file may change later.
const httpd = `mkdir -p /www && echo "${STATE:-up} $WHO" > /www/index.html && echo serving && exec httpd -f -p "$PORT" -h /www`

// prepare makes a workspace of its own in a namespace of the test's.
func prepare(t *testing.T) (*kube.Executor, executor.Workspace, string, string) {
	t.Helper()
	img := image(t)
	e := newExecutor(t, img)
	dir := t.TempDir()
	ws, err := e.Prepare(context.Background(), executor.Run{ID: "Sidecars", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ws.Cleanup(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return e, ws, dir, img
}

// A step reaches its sidecars by name; their variables are theirs, not
// the step's; their output lands in the step's, each line prefixed.
func TestSidecarsReachedByName(t *testing.T) {
	_, ws, dir, img := prepare(t)
	res, out := run(t, ws, executor.Step{
		Image: img, Dir: dir, Env: []string{"PATH=/bin", "WHO=step"},
		Sidecars: []executor.Sidecar{
			{Name: "web", Image: img, Port: 8080, Script: httpd, Env: []string{"WHO=sidecar", "PORT=8080"}},
			{Name: "other-web", Image: img, Port: 8081, Script: httpd, Env: []string{"WHO=other", "PORT=8081"}},
		},
		Script: `wget -q -O - http://web:8080/; wget -q -O - http://other-web:8081/; echo "$WHO"`,
	})
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, out)
	}
	for _, want := range []string{"up sidecar\nup other\nstep\n", "[sidecar web] serving\n", "[sidecar other-web] serving\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

// A sidecar with a ready script holds the step back until the script
// passes inside the sidecar's container: a TCP check would have let it
// see the server still starting.
func TestSidecarReadyScriptDelaysStep(t *testing.T) {
	_, ws, dir, img := prepare(t)
	res, out := run(t, ws, executor.Step{
		Image: img, Dir: dir, Env: []string{"PATH=/bin"},
		Sidecars: []executor.Sidecar{{
			Name: "web", Image: img, Port: 8080, Env: []string{"PORT=8080", "STATE=starting"},
			Script: `(sleep 3; echo ready > /www/index.html; echo now ready) & ` + httpd,
			Ready:  `grep -q ready /www/index.html`, ReadyTimeout: 30 * time.Second,
		}},
		Script: `wget -q -O - http://web:8080/`,
	})
	lines := strings.Split(out, "\n")
	if res.ExitCode != 0 || !slices.Contains(lines, "ready") || strings.Contains(out, "starting") || !slices.Contains(lines, "[sidecar web] now ready") {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
}

// A sidecar that is not ready in time, or exits before, fails the step
// with an error naming it and quoting its last lines; the step never
// runs.
func TestSidecarNotReady(t *testing.T) {
	_, ws, dir, img := prepare(t)
	for _, tc := range []struct {
		name, image, script, ready string
		want                       []string
	}{
		{"never", img, `echo booting; echo still booting; exec sleep 600`, "",
			[]string{`sidecar "db": not ready after 2s: port 5432 accepted no connection; its last output:`, "\n    booting\n    still booting"}},
		{"script", img, `echo booting; exec sleep 600`, "echo not yet; false",
			[]string{`sidecar "db": not ready after 2s: its ready script did not pass; its last output:`, "\n    booting"}},
		{"exits", img, `echo cannot read config >&2; exit 3`, "",
			[]string{`sidecar "db": exited with code 3 before becoming ready; its last output:`, "\n    cannot read config"}},
		{"image", "velocity-test/no-such-image:1", "", "",
			[]string{`sidecar "db" cannot start in image velocity-test/no-such-image:1: ErrImageNeverPull`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			var out strings.Builder
			_, err := ws.Run(context.Background(), executor.Step{
				Name: "test/" + tc.name, Image: img, Dir: dir, Env: []string{"PATH=/bin"}, Output: &out,
				Sidecars: []executor.Sidecar{{Name: "db", Image: tc.image, Port: 5432, Script: tc.script, Ready: tc.ready, ReadyTimeout: 2 * time.Second}},
				Script:   `echo the step ran`,
			})
			if err == nil {
				t.Fatalf("no error; output %q", out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "test/"+tc.name+": ") || strings.Contains(out.String(), "the step ran") {
				t.Errorf("error %q, output %q", err, out.String())
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("failed after %v", d)
			}
		})
	}
}

// Cancelling a step whose sidecar runs deletes the pod, sidecar and all.
func TestSidecarCancel(t *testing.T) {
	e, ws, dir, img := prepare(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	go func() {
		for !strings.Contains(out.String(), "step runs") {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	res, err := ws.Run(ctx, executor.Step{
		Name: "test/cancel", Image: img, Dir: dir, Env: []string{"PATH=/bin"}, Output: &out, KillGrace: time.Second,
		Sidecars: []executor.Sidecar{{Name: "web", Image: img, Port: 8080, Script: httpd, Env: []string{"PORT=8080"}}},
		Script:   `echo step runs; exec sleep 600`,
	})
	if err != nil || !res.Stopped {
		t.Fatalf("%v, %+v", err, res)
	}
	c, _ := kubeapi.Load(kubetest.Config(t))
	pods, err := c.List(context.Background(), e.Namespace(), "pods", kube.RunLabel+"="+ws.(*kube.Workspace).Name())
	if err != nil || len(pods) != 0 {
		t.Errorf("after the step: %d pods of the run (%v)", len(pods), err)
	}
}

// A sidecar name that cannot be a host name in a pod is refused.
func TestSidecarNameRefused(t *testing.T) {
	_, ws, dir, img := prepare(t)
	_, err := ws.Run(context.Background(), executor.Step{
		Name: "test/name", Image: img, Dir: dir, Script: "true",
		Sidecars: []executor.Sidecar{{Name: "my_db", Image: img, Port: 5432}},
	})
	if !errors.Is(err, executor.ErrUnsupported) || !strings.Contains(err.Error(), `sidecar "my_db"`) {
		t.Fatalf("err %v", err)
	}
}

// syncBuffer is a buffer read while the step writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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
