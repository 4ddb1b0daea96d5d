package deploy_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/spec"
)

// deployWith deploys files as release id with the instances' environment
// env and returns the result and the deploy's log.
func (h *harness) deployWith(svc spec.Service, id string, files []artifact.File, env []string) (deploy.Result, string) {
	h.t.Helper()
	var log bytes.Buffer
	res, err := h.d.Deploy(context.Background(), deploy.Request{
		Service: svc, Environment: spec.Environment{Name: envName},
		Release: id, Files: files, Env: env, Log: &log,
	})
	h.t.Logf("deploy %s:\n%s", id, log.String())
	if err != nil {
		h.t.Fatalf("deploy %s: %v", id, err)
	}
	return res, log.String()
}

func pids(h *harness) []int {
	var out []int
	for _, in := range h.d.Instances(envName, svcName) {
		out = append(out, in.(interface{ Pid() int }).Pid())
	}
	return out
}

// A deploy of the same files with the same settings starts nothing: the
// release serving stays, its processes untouched, and the deploy says
// so. Any change to what the instances are made of (replicas, env, a
// secret's value, a file) is a real deploy.
func TestUnchangedReleaseIsNotRedeployed(t *testing.T) {
	h := newHarness(t)
	svc := service("rolling", 2)
	svc.Env = map[string]string{"GREETING": "hi"}
	files := h.release("A", "")
	env := []string{"TOKEN=one"}
	h.deployWith(svc, "r1", files, env)
	before, started := pids(h), len(h.rt.instances())

	// The same files collected again by a later run are equal.
	res, log := h.deployWith(svc, "r2", h.release("A", ""), env)
	if !res.Unchanged || res.Release != "r1" {
		t.Errorf("result %+v, want r1 unchanged", res)
	}
	if !strings.Contains(log, "web r1 already serves this release") {
		t.Errorf("the deploy does not say the release already serves:\n%s", log)
	}
	if n := len(h.rt.instances()); n != started {
		t.Errorf("%d instances started for an unchanged release", n-started)
	}
	if after := pids(h); !equalInts(before, after) {
		t.Errorf("instances' pids %v, were %v", after, before)
	}
	if res.URL == "" {
		t.Errorf("no URL for the acceptance tests")
	}
	h.serves("A", 5)

	changes := []struct {
		name  string
		svc   func() spec.Service
		env   []string
		files []artifact.File
	}{
		{"replicas", func() spec.Service { s := svc; s.Replicas = 3; return s }, env, files},
		{"env", func() spec.Service {
			s := svc
			s.Env = map[string]string{"GREETING": "hello"}
			return s
		}, env, files},
		{"secret", func() spec.Service { return svc }, []string{"TOKEN=two"}, files},
		{"files", func() spec.Service { return svc }, env, h.release("B", "")},
	}
	prev := svc
	prevEnv, prevFiles := env, files
	for i, c := range changes {
		s := c.svc()
		id := "r" + string(rune('3'+i))
		res, _ := h.deployWith(s, id, c.files, c.env)
		if res.Unchanged || res.Release != id {
			t.Errorf("%s changed: result %+v, want a new release %s", c.name, res, id)
		}
		prev, prevEnv, prevFiles = s, c.env, c.files
	}
	// And the last one, unchanged, is left alone again.
	if res, _ := h.deployWith(prev, "r9", prevFiles, prevEnv); !res.Unchanged {
		t.Errorf("result %+v, want unchanged", res)
	}
	// A forced redeploy restarts it.
	var log2 bytes.Buffer
	res2, err := h.d.Deploy(context.Background(), deploy.Request{
		Service: prev, Environment: spec.Environment{Name: envName},
		Release: "r10", Files: prevFiles, Env: prevEnv, Log: &log2, Redeploy: true,
	})
	if err != nil || res2.Unchanged || res2.Release != "r10" {
		t.Errorf("forced redeploy: %+v, %v", res2, err)
	}
}

// A release with an instance down is deployed again rather than called
// unchanged: deploying is how it gets whole.
func TestUnchangedReleaseWithInstanceDownIsRedeployed(t *testing.T) {
	h := newHarness(t)
	svc := service("rolling", 1)
	files := h.release("A", "")
	h.deployWith(svc, "r1", files, nil)
	for _, in := range h.d.Instances(envName, svcName) {
		if err := in.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if res, _ := h.deployWith(svc, "r2", files, nil); res.Unchanged || res.Release != "r2" {
		t.Errorf("result %+v, want release r2 deployed", res)
	}
	h.serves("A", 5)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i] != b[i] || a[i] == 0 {
			return false
		}
	}
	return true
}
