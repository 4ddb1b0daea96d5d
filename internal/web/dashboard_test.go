package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/projects"
	"github.com/velocity-ci/velocity/internal/runs"
)

func (f *fixture) project(name string) {
	f.t.Helper()
	needGit(f.t)
	if _, err := f.site.Projects.Add(context.Background(), projects.AddRequest{Name: name, Branch: "main"}); err != nil {
		f.t.Fatal(err)
	}
}

const okPipeline = "stages:\n  - name: build\n    actions:\n      - { name: test, run: 'true' }\n"
const failingPipeline = "stages:\n  - name: build\n    actions:\n      - { name: test, run: 'false' }\n"

func TestDashboardShowsEachBranchsLastRun(t *testing.T) {
	f := newFixture(t)
	f.project("hello")
	old := f.start(okPipeline, runs.StartRequest{Project: "hello", Branch: "main", Trigger: "push by alice"})
	f.wait(old)
	last := f.start(failingPipeline, runs.StartRequest{Project: "hello", Branch: "main", Trigger: "push by bob"})
	f.wait(last)
	feature := f.start(okPipeline, runs.StartRequest{Project: "hello", Branch: "feature", Trigger: "push by carol"})
	f.wait(feature)
	other := f.start(okPipeline, runs.StartRequest{})
	f.wait(other)

	c := f.login("alice", access.Viewer)
	res, body := f.get(c, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("dashboard: %s", res.Status)
	}
	contains(t, body, `<tr class="project" data-project="hello">`,
		fmt.Sprintf(`<a href="/runs/%d">#%d</a>`, last, last), "push by bob",
		fmt.Sprintf(`<a href="/runs/%d">#%d</a>`, feature, feature), "push by carol",
		fmt.Sprintf(`<tr class="run" data-run="%d">`, other))
	if strings.Contains(body, fmt.Sprintf(`href="/runs/%d"`, old)) {
		t.Error("the dashboard lists an older run of a branch")
	}
	// The project's own branch comes first.
	if strings.Index(body, "push by bob") > strings.Index(body, "push by carol") {
		t.Error("the project's branch is not its first row")
	}
}

func TestBadgeFollowsTheLastRunOfTheBranch(t *testing.T) {
	f := newFixture(t)
	f.project("hello")
	badge := func() (int, string) {
		res, body := f.get(f.client(), "/badge/hello.svg")
		if res.Header.Get("Content-Type") != "image/svg+xml" || res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("badge headers: %q %q", res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
		}
		return res.StatusCode, body
	}
	if code, body := badge(); code != http.StatusOK || !strings.Contains(body, ">unknown<") {
		t.Errorf("no runs: %d, want unknown", code)
	}
	f.wait(f.start(okPipeline, runs.StartRequest{Project: "hello", Branch: "main"}))
	if _, body := badge(); !strings.Contains(body, ">passing<") || !strings.Contains(body, "<svg") {
		t.Errorf("after a success: %s", body)
	}
	f.wait(f.start(failingPipeline, runs.StartRequest{Project: "hello", Branch: "main"}))
	// Another branch's run leaves the badge as it is.
	f.wait(f.start(okPipeline, runs.StartRequest{Project: "hello", Branch: "feature"}))
	if _, body := badge(); !strings.Contains(body, ">failing<") {
		t.Errorf("after a failure on main: %s", body)
	}
	gate := t.TempDir() + "/gate"
	id := f.start("stages:\n  - name: build\n    actions:\n      - { name: wait, env: { G: '"+gate+"' }, run: 'while [ ! -f \"$G\" ]; do sleep 0.02; done' }\n",
		runs.StartRequest{Project: "hello", Branch: "main"})
	if _, body := badge(); !strings.Contains(body, ">running<") {
		t.Errorf("while running: %s", body)
	}
	f.runs.Cancel(context.Background(), id, true)
	f.wait(id)
	if res, body := f.get(f.client(), "/badge/nope.svg"); res.StatusCode != http.StatusOK || !strings.Contains(body, ">unknown<") {
		t.Errorf("unknown project: %s", res.Status)
	}
}
