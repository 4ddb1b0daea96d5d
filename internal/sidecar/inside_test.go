package sidecar_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/sidecar"
	"github.com/velocity-ci/velocity/internal/spec"
)

// Sidecars run inside the action's step are reached by name, with the
// readiness defaults of sidecars Velocity starts itself; one without an
// image is refused, since it would run on Velocity's host.
func TestInside(t *testing.T) {
	scs, env, err := sidecar.Inside([]spec.Sidecar{
		{Name: "db-main", Image: "postgres:17", Port: 5432, Env: map[string]string{"B": "2", "A": "1"}},
		{Name: "cache", Image: "redis:7", Port: 6379, Run: "redis-server", Ready: spec.Ready{Run: "redis-cli ping", Timeout: time.Second, Interval: 2 * time.Second}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []executor.Sidecar{
		{Name: "db-main", Image: "postgres:17", Port: 5432, Env: []string{"A=1", "B=2", "PORT=5432"}, ReadyTimeout: 30 * time.Second, ReadyInterval: 100 * time.Millisecond},
		{Name: "cache", Image: "redis:7", Port: 6379, Script: "redis-server", Env: []string{"PORT=6379"}, Ready: "redis-cli ping", ReadyTimeout: time.Second, ReadyInterval: 2 * time.Second},
	}
	if !slices.EqualFunc(scs, want, func(a, b executor.Sidecar) bool {
		return a.Name == b.Name && a.Image == b.Image && a.Port == b.Port && a.Script == b.Script &&
			slices.Equal(a.Env, b.Env) && a.Ready == b.Ready && a.ReadyTimeout == b.ReadyTimeout && a.ReadyInterval == b.ReadyInterval
	}) {
		t.Errorf("sidecars\n%+v\nwant\n%+v", scs, want)
	}
	wantEnv := []string{
		"DB_MAIN_HOST=db-main", "DB_MAIN_PORT=5432", "DB_MAIN_ADDR=db-main:5432",
		"CACHE_HOST=cache", "CACHE_PORT=6379", "CACHE_ADDR=cache:6379",
	}
	if !slices.Equal(env, wantEnv) {
		t.Errorf("env %q, want %q", env, wantEnv)
	}

	_, _, err = sidecar.Inside([]spec.Sidecar{{Name: "db", Image: "postgres:17", Port: 5432}, {Name: "mock", Run: "./mock"}})
	if err == nil || !strings.Contains(err.Error(), `sidecar "mock" runs on Velocity's host`) {
		t.Errorf("host sidecar: %v", err)
	}
	_, _, err = sidecar.Inside([]spec.Sidecar{{Name: "a-b", Image: "x", Port: 1}, {Name: "a_b", Image: "x", Port: 2}})
	if err == nil || !strings.Contains(err.Error(), "would both export A_B_PORT") {
		t.Errorf("clashing names: %v", err)
	}
}
