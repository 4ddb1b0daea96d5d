package docker_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/docker"
)

// A service runs on the run's network: the step it is for reaches it by
// its name, Velocity by its address, and a script runs inside it.
func TestService(t *testing.T) {
	e := newExecutor(t)
	ws, dir := prepare(t, e)
	w := ws.(*docker.Workspace)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out strings.Builder
	var mu sync.Mutex
	started := make(chan docker.Started, 1)
	done := make(chan executor.Result, 1)
	go func() {
		res, err := w.RunService(ctx, docker.Service{
			Name: "web", For: "test/action", Image: dockertest.Busybox(t),
			Script: `mkdir -p /www && echo "hello $GREETING" > /www/index.html && exec httpd -f -p "$PORT" -h /www`,
			Env:    []string{"PORT=8080", "GREETING=there"},
			Output: writerFunc(func(p []byte) { mu.Lock(); out.Write(p); mu.Unlock() }),
		}, func(s docker.Started) { started <- s })
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	var st docker.Started
	select {
	case st = <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the service never started")
	}
	if st.IP == "" || st.ID == "" {
		t.Fatalf("started %+v: want an ID and an address", st)
	}
	var res executor.Result
	deadline := time.Now().Add(10 * time.Second)
	for {
		var check strings.Builder
		var err error
		res, err = w.Exec(ctx, st.ID, `wget -q -O - "http://127.0.0.1:$PORT/"`, []string{"PORT=8080"}, writerFunc(func(p []byte) { check.Write(p) }))
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode == 0 {
			if check.String() != "hello there\n" {
				t.Fatalf("readiness output %q", check.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: exit %d, %q", res.ExitCode, check.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, got := run(t, ws, executor.Step{Name: "test/action", Dir: dir, Script: "wget -q -O - http://web:8080/"})
	if res.ExitCode != 0 || got != "hello there\n" {
		t.Fatalf("the step reaching the service by name: exit %d, output %q", res.ExitCode, got)
	}
	res, _ = run(t, ws, executor.Step{Name: "other", Dir: dir, Script: "wget -q -T 2 -O - http://web:8080/"})
	if res.ExitCode == 0 {
		t.Errorf("a step the service is not for reached it by name")
	}
	cancel()
	select {
	case res = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the service did not stop")
	}
	if !res.Stopped {
		t.Errorf("result %+v, want Stopped", res)
	}
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }
