package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
)

// finishedRun starts a run of yml as the developer and waits for its end.
func (g *guarded) finishedRun(t *testing.T, yml string) int64 {
	t.Helper()
	start, _ := json.Marshal(runs.StartRequest{Dir: projectDir(t, yml), Jobs: 1})
	var started server.StartedRun
	if err := json.Unmarshal([]byte(g.want(t, http.StatusCreated, "POST", "/api/v1/runs", access.Developer, string(start))), &started); err != nil {
		t.Fatal(err)
	}
	events := g.want(t, http.StatusOK, "GET", "/api/v1/runs/"+itoa(started.ID)+"/events", access.Viewer, "")
	if !strings.Contains(events, "event: run_finished") {
		t.Fatalf("run %d did not finish:\n%s", started.ID, events)
	}
	return started.ID
}

func TestRunsAreListedShownAndRerunThroughTheAPI(t *testing.T) {
	g := newGuarded(t, nil)
	id := g.finishedRun(t, `
name: listed
stages:
  - name: build
    actions:
      - { name: compile, run: echo compiled }
`)

	var list []store.Run
	json.Unmarshal([]byte(g.want(t, http.StatusOK, "GET", "/api/v1/runs", access.Viewer, "")), &list)
	if len(list) != 1 || list[0].ID != id || list[0].Project != "listed" || list[0].Status != store.Succeeded {
		t.Errorf("GET /api/v1/runs: %+v", list)
	}
	if out := g.want(t, http.StatusOK, "GET", "/api/v1/runs?project=other", access.Viewer, ""); strings.TrimSpace(out) != "[]" {
		t.Errorf("the runs of a project without any: %s", out)
	}
	g.want(t, http.StatusBadRequest, "GET", "/api/v1/runs?limit=0", access.Viewer, "")

	var d server.RunDetails
	json.Unmarshal([]byte(g.want(t, http.StatusOK, "GET", "/api/v1/runs/"+itoa(id), access.Viewer, "")), &d)
	if d.Run.ID != id || len(d.Actions) != 1 || d.Actions[0].Name != "compile" || d.Actions[0].Status != store.Succeeded || len(d.Attempts) != 1 {
		t.Errorf("GET /api/v1/runs/%d: %+v", id, d)
	}
	g.want(t, http.StatusNotFound, "GET", "/api/v1/runs/999", access.Viewer, "")

	rerun := "/api/v1/runs/" + itoa(id) + "/rerun"
	g.want(t, http.StatusForbidden, "POST", rerun, access.Viewer, "")
	if out := g.want(t, http.StatusBadRequest, "POST", rerun, access.Developer, `{"failed":true}`); !strings.Contains(out, "nothing that failed") {
		t.Errorf("rerun --failed of a run that succeeded: %s", out)
	}
	var again server.StartedRun
	json.Unmarshal([]byte(g.want(t, http.StatusCreated, "POST", rerun, access.Developer, "")), &again)
	if again.ID == 0 || again.ID == id {
		t.Fatalf("the rerun's number: %d", again.ID)
	}
	events := g.want(t, http.StatusOK, "GET", "/api/v1/runs/"+itoa(again.ID)+"/events", access.Viewer, "")
	if !strings.Contains(events, `"status":"succeeded"`) {
		t.Errorf("the rerun's events:\n%s", events)
	}
}

func TestRemoteClientSendsItsTokenAndKeepsItOutOfErrors(t *testing.T) {
	g := newGuarded(t, nil)
	id := g.finishedRun(t, `
name: remote
stages:
  - name: build
    actions:
      - { name: hello, run: "echo hello; echo world" }
`)
	ctx := context.Background()
	c, err := server.NewRemoteClient(g.url+"/", g.secrets[access.Viewer])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	list, err := c.ListRuns(ctx, "remote", 5)
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("ListRuns: %+v, %v", list, err)
	}
	d, err := c.ShowRun(ctx, id)
	if err != nil || d.Run.ID != id || len(d.Actions) != 1 {
		t.Fatalf("ShowRun: %+v, %v", d, err)
	}
	ev, err := c.JournaledRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range drain(t, ev) {
		if e.Output != nil {
			lines = append(lines, e.Output.Text)
		}
	}
	if strings.Join(lines, ",") != "hello,world" {
		t.Errorf("the journaled output: %q", lines)
	}

	// A viewer's token may not rerun: the server's words come back.
	_, err = c.RerunRun(ctx, id, false, 1)
	var se *server.Error
	if !errors.As(err, &se) || se.Code != http.StatusForbidden || !strings.Contains(se.Message, "needs developer") || !errors.Is(err, fault.Forbidden) {
		t.Errorf("a viewer's rerun: %v", err)
	}

	wrong, _ := server.NewRemoteClient(g.url, "vel_not-the-token")
	_, err = wrong.ListRuns(ctx, "", 0)
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized || strings.Contains(err.Error(), "not-the-token") {
		t.Errorf("a wrong token: %v", err)
	}

	for _, bad := range []string{"", "localhost:8080", "ftp://host", "http://user:pw@host", "http://"} {
		if _, err := server.NewRemoteClient(bad, "t"); !errors.Is(err, fault.Invalid) {
			t.Errorf("NewRemoteClient(%q): %v, want an invalid URL", bad, err)
		}
	}
}
