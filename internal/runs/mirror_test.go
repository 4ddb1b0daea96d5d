package runs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// git runs git in dir for a test, failing it on error.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=T", "-c", "user.email=t@example.com",
		"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// A server's run: a commit of a bare mirror, named by the server's
// project, on the branch and with the trigger the server says.
func TestRunOfAMirrorCommit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	svc := newService(t)
	repo := project(t, "name: from-yml\nstages:\n  - name: build\n    actions:\n      - { name: hello, run: echo hello from $VELOCITY_PROJECT on $VELOCITY_BRANCH }\n")
	gitIn(t, repo, "init", "-q")
	gitIn(t, repo, "add", "-A")
	t.Setenv("GIT_COMMITTER_DATE", "2026-02-03T04:05:06Z")
	gitIn(t, repo, "commit", "-q", "-m", "one")
	commit := gitIn(t, repo, "rev-parse", "HEAD")
	mirror := filepath.Join(t.TempDir(), "shop.git")
	gitIn(t, filepath.Dir(mirror), "clone", "-q", "--mirror", repo, mirror)

	ctx := context.Background()
	id, err := svc.Start(ctx, StartRequest{Dir: mirror, Commit: commit, Jobs: 1, Project: "shop", Branch: "main", Trigger: "push by alice"})
	if err != nil {
		t.Fatal(err)
	}
	events, err := svc.Watch(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	all := collect(t, events)
	res, err := svc.Wait(ctx, id)
	if err != nil || res.Run.Status != store.Succeeded {
		t.Fatalf("run: %+v, %v", res.Run, err)
	}
	r, err := svc.cfg.Store.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Project != "shop" || r.Commit != commit || r.Branch != "main" || r.Trigger != "push by alice" || r.Dir != mirror {
		t.Errorf("run recorded as %+v", r)
	}
	// Lead time for changes counts from the commit's committer date.
	if want := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC); !r.CommitTime.Equal(want) {
		t.Errorf("run's commit time %v, want the committer date %v", r.CommitTime, want)
	}
	// The project's workspaces are its own: named after its mirror.
	if !strings.HasPrefix(filepath.Base(r.Workspace), "shop.git-") {
		t.Errorf("workspace %s is not the mirror's", r.Workspace)
	}
	if got := strings.Join(outputLines(all), "\n"); !strings.Contains(got, "hello from shop on main") {
		t.Errorf("output %q", got)
	}
	if all[0].RunStarted == nil || all[0].RunStarted.Trigger != "push by alice" || all[0].RunStarted.Project != "shop" {
		t.Errorf("first event %+v", all[0])
	}
	if listed, _ := svc.cfg.Store.Runs(ctx, store.RunFilter{Project: "shop"}); len(listed) != 1 || listed[0].ID != id {
		t.Errorf("runs of shop: %+v", listed)
	}

	// Its re-run is a run of the same project and branch.
	again, err := svc.Start(ctx, StartRequest{Rerun: id, Jobs: 1, Trigger: "rerun by alice"})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := svc.Wait(ctx, again); err != nil || res.Run.Status != store.Succeeded {
		t.Fatalf("re-run: %+v, %v", res.Run, err)
	}
	r, _ = svc.cfg.Store.Run(ctx, again)
	if r.Project != "shop" || r.Branch != "main" || r.Commit != commit || r.Trigger != "rerun by alice" {
		t.Errorf("re-run recorded as %+v", r)
	}
}
