package deploy_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/spec"
)

// redeploy deploys files again under an existing release id, as a
// rollback does.
func (h *harness) redeploy(svc spec.Service, id string, files []artifact.File) deploy.Result {
	h.t.Helper()
	var log bytes.Buffer
	res, err := h.d.Deploy(context.Background(), deploy.Request{
		Service: svc, Environment: spec.Environment{Name: envName},
		Release: id, Files: files, Log: &log,
	})
	h.t.Logf("redeploy %s:\n%s", id, log.String())
	if err != nil {
		h.t.Fatalf("redeploy %s: %v", id, err)
	}
	return res
}

// A blue-green release still kept warm comes back by switching traffic
// to its running instances: nothing starts, no request fails, and the
// release it replaced is kept warm in turn.
func TestBlueGreenRollbackToWarmReleaseStartsNothing(t *testing.T) {
	h := newHarness(t)
	svc := service("blue-green", 2)
	svc.Strategy.KeepWarm = time.Minute
	a := h.release("A", "")
	r1 := h.mustDeploy(svc, a)
	r2 := h.mustDeploy(svc, h.release("B", ""))
	h.serves("B", 5)
	started := len(h.rt.instances())

	l := startLoad(t, h.proxyURL, 4)
	l.waitForRequests(t, 100)
	res := h.redeploy(svc, r1, a)
	l.waitForRequests(t, 100)
	l.halt()
	l.checkNoFailures(t)

	if !res.Warm {
		t.Errorf("the rollback to %s did not reuse the warm release: %+v", r1, res)
	}
	if n := len(h.rt.instances()); n != started {
		t.Errorf("%d instances were started for the rollback, want none", n-started)
	}
	h.serves("A", 10)
	st := h.d.Statuses()
	if len(st) != 1 || st[0].Release != r1 || len(st[0].Instances) != 2 || len(st[0].Warm) != 1 || st[0].Warm[0] != r2 {
		t.Fatalf("status after the rollback: %+v", st)
	}
	for _, in := range st[0].Instances {
		if in.Health != "healthy" || in.State != string(runtime.StateRunning) {
			t.Errorf("instance %+v", in)
		}
	}
	// And forward again, just as fast.
	if res := h.redeploy(svc, r2, nil); !res.Warm {
		t.Errorf("the switch back to %s did not reuse it: %+v", r2, res)
	}
	h.serves("B", 5)
}

// A release first deployed rolling and kept warm by the blue-green deploy
// that replaced it comes back instantly, whatever strategy the rollback
// request carries; status lists the warm release, Close stops it.
func TestRollbackToWarmRollingReleaseStartsNothing(t *testing.T) {
	h := newHarness(t)
	rolling := service("rolling", 2)
	a := h.release("A", "")
	r1 := h.mustDeploy(rolling, a)
	bg := service("blue-green", 2)
	bg.Strategy.KeepWarm = time.Minute
	r2 := h.mustDeploy(bg, h.release("B", ""))
	if st := h.d.Statuses(); len(st) != 1 || st[0].Release != r2 || len(st[0].Warm) != 1 || st[0].Warm[0] != r1 {
		t.Fatalf("status after the blue-green deploy: %+v", st)
	}
	started := len(h.rt.instances())
	// A rollback deploys r1 with the definition it was deployed with.
	res := h.redeploy(rolling, r1, a)
	if !res.Warm {
		t.Errorf("the rollback to %s did not reuse its warm instances", r1)
	}
	if n := len(h.rt.instances()); n != started {
		t.Errorf("%d instances were started for the rollback, want none", n-started)
	}
	h.serves("A", 10)
	st := h.d.Statuses()
	if len(st) != 1 || st[0].Release != r1 || len(st[0].Instances) != 2 || len(st[0].Warm) != 1 || st[0].Warm[0] != r2 {
		t.Fatalf("status after the rollback: %+v (want %s serving, %s warm)", st, r1, r2)
	}
	h.d.Close()
	for _, in := range h.rt.instances() {
		select {
		case <-in.Exited():
		case <-time.After(10 * time.Second):
			t.Errorf("instance %s still %s after Close", in.ID(), in.State())
		}
	}
}

// Without a warm copy (rolling, or the keep_warm period over) the
// release is deployed again from its files.
func TestRollbackWithoutWarmReleaseDeploysItAgain(t *testing.T) {
	h := newHarness(t)
	svc := service("rolling", 1)
	a := h.release("A", "")
	r1 := h.mustDeploy(svc, a)
	h.mustDeploy(svc, h.release("B", ""))
	started := len(h.rt.instances())
	if res := h.redeploy(svc, r1, a); res.Warm {
		t.Errorf("a rolling service reported a warm switch")
	}
	if n := len(h.rt.instances()); n != started+1 {
		t.Errorf("%d instances started, want 1", n-started)
	}
	h.serves("A", 5)
}
