package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// RunDeployments runs the deployment journal's suite; open returns an
// empty store for each subtest.
func RunDeployments(t *testing.T, open func(t *testing.T) store.Deployments) {
	t.Run("LiveAndReplaced", func(t *testing.T) { testLiveAndReplaced(t, open(t)) })
	t.Run("KeptForRedeploy", func(t *testing.T) { testKeptForRedeploy(t, open(t)) })
	t.Run("InterruptDeploying", func(t *testing.T) { testInterruptDeploying(t, open(t)) })
	t.Run("DeploymentNotFound", func(t *testing.T) { testDeploymentNotFound(t, open(t)) })
	t.Run("EnvironmentDeployments", func(t *testing.T) { testEnvironmentDeployments(t, open(t)) })
	t.Run("ConcurrentSetLiveOneLive", func(t *testing.T) { testConcurrentSetLive(t, open(t)) })
}

// testConcurrentSetLive: deployments of one service going live at once,
// as two nodes' deploys may, leave exactly one live and every other
// replaced, with no error for any of them.
func testConcurrentSetLive(t *testing.T, s store.Deployments) {
	var ids []int64
	for i := range 8 {
		ids = append(ids, create(t, s, deployment("production", "web", fmt.Sprint("r", i), int64(i+1))))
	}
	other := create(t, s, deployment("production", "worker", "w1", 9))
	if err := s.SetLive(ctx, other, store.Superseded, time.Unix(100, 0)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			if err := s.SetLive(ctx, id, store.Superseded, time.Unix(200, 0)); err != nil {
				t.Errorf("deployment %d live: %v", id, err)
			}
		})
	}
	wg.Wait()
	live, err := s.LiveDeployments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var web []int64
	for _, d := range live {
		if d.Service == "web" {
			web = append(web, d.ID)
		}
	}
	if len(live) != 2 || len(web) != 1 {
		t.Fatalf("live after racing deploys: %+v, want one web and the worker", live)
	}
	for _, id := range ids {
		if d, _ := s.Deployment(ctx, id); id != web[0] && d.Status != store.Superseded {
			t.Errorf("deployment %d is %s, want superseded", id, d.Status)
		}
	}
}

func testEnvironmentDeployments(t *testing.T, s store.Deployments) {
	web1 := create(t, s, deployment("production", "web", "r1", 1))
	create(t, s, deployment("staging", "web", "r2", 2))
	worker := create(t, s, deployment("production", "worker", "r3", 3))
	web4 := create(t, s, deployment("production", "web", "r4", 4))
	ds, err := s.EnvironmentDeployments(ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	if len(ids) != 3 || ids[0] != web1 || ids[1] != worker || ids[2] != web4 {
		t.Errorf("production deployments %v, want every service's, oldest first: %d %d %d", ids, web1, worker, web4)
	}
	if ds[1].Service != "worker" || ds[1].Release != "r3" || !ds[1].Created.Equal(time.Unix(30, 0)) {
		t.Errorf("deployment read back as %+v", ds[1])
	}
	none, err := s.EnvironmentDeployments(ctx, "qa")
	if err != nil || len(none) != 0 {
		t.Errorf("an environment without deployments: %v, %v", none, err)
	}
}

func deployment(env, svc, release string, run int64) store.Deployment {
	return store.Deployment{
		Environment: env, Service: svc, Release: release, RunID: run, Commit: "c" + release,
		Status: store.Deploying, Definition: []byte(`{"service":"` + svc + `"}`),
		Files:   []store.Output{{Stage: "build", Action: "package", Path: "dist/app", Mode: 0o755, Size: 4, Digest: "sha256:" + release}},
		Created: time.Unix(int64(run)*10, 0),
	}
}

func create(t *testing.T, s store.Deployments, d store.Deployment) int64 {
	t.Helper()
	id, err := s.CreateDeployment(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func statuses(t *testing.T, s store.Deployments, env, svc string) []store.DeploymentStatus {
	t.Helper()
	ds, err := s.Deployments(ctx, env, svc)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.DeploymentStatus
	for _, d := range ds {
		out = append(out, d.Status)
	}
	return out
}

func equal(a, b []store.DeploymentStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Only one deployment per environment and service is live; going live
// replaces the previous one with the status the caller names, and other
// services and environments are left alone.
func testLiveAndReplaced(t *testing.T, s store.Deployments) {
	r1 := create(t, s, deployment("prod", "web", "r1", 1))
	other := create(t, s, deployment("staging", "web", "r1", 1))
	api := create(t, s, deployment("prod", "api", "r1", 1))
	for _, id := range []int64{r1, other, api} {
		if err := s.SetLive(ctx, id, store.Superseded, time.Unix(11, 0)); err != nil {
			t.Fatal(err)
		}
	}
	r2 := create(t, s, deployment("prod", "web", "r2", 2))
	if got := statuses(t, s, "prod", "web"); !equal(got, []store.DeploymentStatus{store.Deploying, store.Live}) {
		t.Fatalf("while r2 deploys: %v", got)
	}
	if err := s.SetLive(ctx, r2, store.Superseded, time.Unix(21, 0)); err != nil {
		t.Fatal(err)
	}
	if got := statuses(t, s, "prod", "web"); !equal(got, []store.DeploymentStatus{store.Live, store.Superseded}) {
		t.Fatalf("after r2: %v", got)
	}
	back := deployment("prod", "web", "r1", 1)
	back.Rollback = true
	rb := create(t, s, back)
	if err := s.SetLive(ctx, rb, store.RolledBack, time.Unix(31, 0)); err != nil {
		t.Fatal(err)
	}
	ds, err := s.Deployments(ctx, "prod", "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 || ds[0].ID != rb || ds[0].Release != "r1" || !ds[0].Rollback || ds[0].Status != store.Live ||
		ds[1].Status != store.RolledBack || ds[1].Release != "r2" || !ds[1].Updated.Equal(time.Unix(31, 0)) ||
		ds[2].Status != store.Superseded || ds[2].Rollback {
		t.Errorf("after the rollback: %+v", ds)
	}
	for _, id := range []int64{other, api} {
		if d, err := s.Deployment(ctx, id); err != nil || d.Status != store.Live {
			t.Errorf("deployment %d of another service or environment: %+v %v", id, d, err)
		}
	}
	live, err := s.LiveDeployments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 3 || live[0].ID != other || live[1].ID != api || live[2].ID != rb {
		t.Errorf("live deployments %+v", live)
	}
	failed := create(t, s, deployment("prod", "web", "r3", 3))
	if err := s.SetDeploymentStatus(ctx, failed, store.DeployFailed, "not healthy", time.Unix(41, 0)); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Deployment(ctx, failed); d.Status != store.DeployFailed || d.Reason != "not healthy" {
		t.Errorf("failed deployment %+v", d)
	}
	if d, _ := s.Deployment(ctx, rb); d.Status != store.Live {
		t.Errorf("a failed deploy changed the live one: %+v", d)
	}
}

// What a redeploy needs comes back exactly as written.
func testKeptForRedeploy(t *testing.T, s store.Deployments) {
	want := deployment("prod", "web", "r7", 7)
	id := create(t, s, want)
	got, err := s.Deployment(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Environment != "prod" || got.Service != "web" || got.Release != "r7" || got.RunID != 7 ||
		got.Commit != "cr7" || got.Status != store.Deploying || string(got.Definition) != string(want.Definition) ||
		!got.Created.Equal(want.Created) || !got.Updated.Equal(want.Created) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if len(got.Files) != 1 || got.Files[0] != want.Files[0] {
		t.Errorf("files %+v, want %+v", got.Files, want.Files)
	}
}

func testInterruptDeploying(t *testing.T, s store.Deployments) {
	live := create(t, s, deployment("prod", "web", "r1", 1))
	if err := s.SetLive(ctx, live, store.Superseded, time.Unix(11, 0)); err != nil {
		t.Fatal(err)
	}
	a := create(t, s, deployment("prod", "web", "r2", 2))
	b := create(t, s, deployment("staging", "api", "r2", 2))
	got, err := s.InterruptDeployments(ctx, "velocity serve stopped", time.Unix(50, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != a || got[1].ID != b || got[0].Status != store.DeployInterrupted {
		t.Errorf("interrupted %+v", got)
	}
	for _, id := range []int64{a, b} {
		d, _ := s.Deployment(ctx, id)
		if d.Status != store.DeployInterrupted || d.Reason != "velocity serve stopped" || !d.Updated.Equal(time.Unix(50, 0)) {
			t.Errorf("deployment %d: %+v", id, d)
		}
	}
	if d, _ := s.Deployment(ctx, live); d.Status != store.Live {
		t.Errorf("the live deployment was touched: %+v", d)
	}
	if again, err := s.InterruptDeployments(ctx, "again", time.Unix(60, 0)); err != nil || len(again) != 0 {
		t.Errorf("second interrupt: %+v %v", again, err)
	}
}

func testDeploymentNotFound(t *testing.T, s store.Deployments) {
	if _, err := s.Deployment(ctx, 99); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Deployment: %v", err)
	}
	if err := s.SetLive(ctx, 99, store.Superseded, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetLive: %v", err)
	}
	if err := s.SetDeploymentStatus(ctx, 99, store.DeployFailed, "", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetDeploymentStatus: %v", err)
	}
	if ds, err := s.Deployments(ctx, "prod", "web"); err != nil || len(ds) != 0 {
		t.Errorf("Deployments of nothing: %+v %v", ds, err)
	}
}
