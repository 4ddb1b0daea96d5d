package e2e

import (
	"context"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// journaled is what a run recorded that does not depend on where or when
// it ran: each action's outcome and cache key, and the outputs' files.
type journaled struct {
	Actions []journaledAction
	Outputs []store.Output
}

type journaledAction struct {
	Stage, Name, Kind, Status string
	ExitCode, Attempts        int
	CacheKey                  string
	CachedFrom                int64
}

func readJournal(t *testing.T, home string, id int64) journaled {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(home, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	actions, err := st.Actions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var j journaled
	for _, a := range actions {
		if a.CacheKey == "" && a.Kind == store.Kind("action") && a.Status == store.Succeeded {
			t.Errorf("run %d %s/%s succeeded without a cache key", id, a.Stage, a.Name)
		}
		j.Actions = append(j.Actions, journaledAction{a.Stage, a.Name, string(a.Kind), string(a.Status), a.ExitCode, a.Attempts, a.CacheKey, a.CachedFrom})
	}
	if j.Outputs, err = st.Outputs(ctx, id); err != nil {
		t.Fatal(err)
	}
	return j
}

// A run started through velocity serve (velocity run --server) is the same
// run as one started here: the same actions with the same outcomes and
// cache keys, the same outputs, byte for byte — only where it executed
// differs. Its second run hits the cache there exactly as here.
func TestRunThroughServerJournalsWhatARunHereJournals(t *testing.T) {
	dir := project(t, map[string]string{
		"src.txt": "hello\n",
		"velocity.yml": `
name: same
stages:
  - name: build
    actions:
      - { name: compile, run: "mkdir -p out && tr a-z A-Z < src.txt > out/app.txt && ln -s app.txt out/link", inputs: [src.txt], outputs: [out] }
      - { name: test, needs: [compile], run: "grep -q HELLO out/app.txt" }
      - { name: flaky, run: "exit 3", allow_failure: true }
  - name: check
    actions:
      - { name: size, run: "wc -c < out/app.txt" }
`,
	})
	gitProject(t, dir)

	here, there := newEnv(t), newEnv(t)
	srv := startServer(t, there)
	for round := 1; round <= 2; round++ {
		local := here.run(dir, "run", "-j", "1", "--progress", "plain")
		remote := there.run(dir, "run", "--server", "-j", "1", "--progress", "plain")
		if local.code != 0 || remote.code != 0 {
			t.Fatalf("round %d: exit %d here, %d through the server\nhere:\n%s%s\nserver:\n%s%s", round,
				local.code, remote.code, local.stdout, local.stderr, remote.stdout, remote.stderr)
		}
		// Durations differ, and with them which chain is critical.
		norm := regexp.MustCompile(`(?m)^ *critical path.*$|[0-9]+(\.[0-9]+)?(ms|s)\b| +`)
		if a, b := norm.ReplaceAllString(local.stdout, " "), norm.ReplaceAllString(remote.stdout, " "); a != b {
			t.Errorf("round %d: console differs\nhere:\n%s\nthrough the server:\n%s", round, local.stdout, remote.stdout)
		}
		a, b := readJournal(t, here.home, int64(round)), readJournal(t, there.home, int64(round))
		if len(a.Actions) != 4 || len(a.Outputs) == 0 {
			t.Fatalf("round %d: journal here has %d actions, %d outputs", round, len(a.Actions), len(a.Outputs))
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("round %d: journals differ\nhere:    %+v\nthrough: %+v", round, a, b)
		}
		if round == 2 && a.Actions[0].CachedFrom != 1 {
			t.Errorf("second run's compile not from the cache of run 1: %+v", a.Actions[0])
		}
	}
	select {
	case <-srv.done:
		t.Fatalf("velocity serve exited:\n%s", srv.out)
	case <-time.After(0):
	}
}
