package runs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/store"
)

// instantDeploys deploys nothing, at once: what is under test is when the
// stages around the deploys run, not the deploys themselves.
type instantDeploys struct{}

func (instantDeploys) ForRun(context.Context, DeployTarget) (RunDeployer, error) {
	return instantDeployer{}, nil
}

type instantDeployer struct{}

func (instantDeployer) Deploy(context.Context, engine.Deploy) (string, error) { return "", nil }
func (instantDeployer) Hosted() bool                                          { return false }
func (instantDeployer) URLs() []string                                        { return nil }
func (instantDeployer) Serve(context.Context, func(string, ...any))           {}
func (instantDeployer) Close()                                                {}

// Two runs deploying to one environment: the second's deploy stage starts
// only when the first's has ended, its acceptance tests included, and it
// says why it waits; a stage deploying elsewhere does not wait.
func TestDeployStagesOfOneEnvironmentDoNotOverlap(t *testing.T) {
	svc := newService(t)
	svc.cfg.Deploys = instantDeploys{}
	trace := filepath.Join(t.TempDir(), "trace")
	yml := func(env string) string {
		return `
services:
  web: { from: build/package, run: "true" }
environments:
  staging: {}
  qa: {}
stages:
  - name: build
    actions:
      - { name: package, run: "touch out", outputs: [out] }
  - name: ` + env + `
    actions:
      - { name: deploy, deploy: web, environment: ` + env + ` }
      - name: acceptance
        needs: [deploy]
        env: { TRACE: "` + trace + `" }
        run: echo "start $VELOCITY_RUN_ID" >> "$TRACE"; sleep 0.4; echo "end $VELOCITY_RUN_ID" >> "$TRACE"
`
	}
	ctx := context.Background()
	var ids []int64
	for _, dir := range []string{project(t, yml("staging")), project(t, yml("staging"))} {
		id, err := svc.Start(ctx, StartRequest{Dir: dir, Jobs: 2})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var notes []string
	for _, id := range ids {
		events, err := svc.Watch(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range collect(t, events) {
			if e.Message != nil {
				notes = append(notes, e.Message.Text)
			}
		}
		if res, err := svc.Wait(ctx, id); err != nil || res.Run.Status != store.Succeeded {
			t.Fatalf("run %d: %+v, %v", id, res.Run, err)
		}
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(strings.ReplaceAll(string(data), "\n", " "))
	// start A end A start B end B: pairs of words.
	if len(lines) != 8 || lines[0] != "start" || lines[2] != "end" || lines[4] != "start" || lines[6] != "end" ||
		lines[1] != lines[3] || lines[5] != lines[7] || lines[1] == lines[5] {
		t.Fatalf("the two staging stages overlapped:\n%s", data)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "waits for environment staging") {
		t.Errorf("no run said it waited for staging; messages:\n%s", strings.Join(notes, "\n"))
	}

	// A stage of another environment runs beside a staging stage.
	os.Remove(trace)
	a, err := svc.Start(ctx, StartRequest{Dir: project(t, yml("staging")), Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.Start(ctx, StartRequest{Dir: project(t, yml("qa")), Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{a, b} {
		if res, err := svc.Wait(ctx, id); err != nil || res.Run.Status != store.Succeeded {
			t.Fatalf("run %d: %+v, %v", id, res.Run, err)
		}
	}
	data, _ = os.ReadFile(trace)
	if lines := strings.Fields(string(data)); len(lines) != 8 || lines[2] != "start" {
		t.Errorf("stages of staging and qa did not overlap:\n%s", data)
	}
}

// A run cancelled while its stage waits for an environment ends at once,
// the stage unrun, and the environment's holder is not disturbed.
func TestCancelWhileWaitingForAnEnvironment(t *testing.T) {
	svc := newService(t)
	svc.cfg.Deploys = instantDeploys{}
	gate := filepath.Join(t.TempDir(), "gate")
	yml := `
services:
  web: { from: build/package, run: "true" }
environments:
  staging: {}
stages:
  - name: build
    actions:
      - { name: package, run: "touch out", outputs: [out] }
  - name: staging
    actions:
      - { name: deploy, deploy: web, environment: staging }
      - name: acceptance
        needs: [deploy]
        env: { GATE: "` + gate + `" }
        run: while [ ! -f "$GATE" ]; do sleep 0.02; done
`
	ctx := context.Background()
	holder, err := svc.Start(ctx, StartRequest{Dir: project(t, yml), Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	events, _ := svc.Watch(ctx, holder, 0)
	waitFor(t, events, func(e Event) bool { return e.AttemptStarted != nil && e.AttemptStarted.Action == "staging/acceptance" })
	waiter, err := svc.Start(ctx, StartRequest{Dir: project(t, yml), Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	events, _ = svc.Watch(ctx, waiter, 0)
	waitFor(t, events, func(e Event) bool {
		return e.Message != nil && strings.Contains(e.Message.Text, "waits for environment staging")
	})
	if err := svc.Cancel(ctx, waiter, false); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Wait(ctx, waiter)
	if err != nil || res.Run.Status != store.Cancelled {
		t.Fatalf("cancelled waiter: %+v, %v", res.Run, err)
	}
	acts, _ := svc.cfg.Store.Actions(ctx, waiter)
	for _, a := range acts {
		if a.Stage == "staging" && a.Status != store.Cancelled {
			t.Errorf("%s/%s is %s, want cancelled", a.Stage, a.Name, a.Status)
		}
	}
	os.WriteFile(gate, nil, 0o644)
	if res, err := svc.Wait(ctx, holder); err != nil || res.Run.Status != store.Succeeded {
		t.Fatalf("holder: %+v, %v", res.Run, err)
	}
}
