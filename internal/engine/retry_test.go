package engine_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// finals records, per action, whether each finished attempt was final,
// and its skips.
type finals struct {
	mu  sync.Mutex
	got map[string][]string
}

func (f *finals) AttemptStarted(*plan.Node, int, time.Time) {}
func (f *finals) Output(*plan.Node, []byte)                 {}
func (f *finals) Skipped(n *plan.Node, st store.Status, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.got == nil {
		f.got = map[string][]string{}
	}
	f.got[n.Name] = append(f.got[n.Name], fmt.Sprintf("%s: %s", st, reason))
}
func (f *finals) AttemptFinished(n *plan.Node, a store.Attempt, final bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.got == nil {
		f.got = map[string][]string{}
	}
	f.got[n.Name] = append(f.got[n.Name], fmt.Sprintf("%d:%s:final=%t", a.N, a.Status, final))
}

func (f *finals) of(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.got[name], " ")
}

// An action that fails every time runs exactly `attempts` times, each
// wait before a retry twice the one before it, and only its last attempt
// is final.
func TestEveryAttemptFailsRunsAttemptsTimesWithDoublingWaits(t *testing.T) {
	h := newHarness(t, 2)
	obs := &finals{}
	h.eng.Observer = obs
	const backoff = 200 * time.Millisecond
	n := node("broken", `echo run >> runs; exit 3`)
	n.Attempts, n.Backoff = 4, backoff
	out, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s", n)}})
	a := acts["s/broken"]
	if out.Status != store.Failed || a.Status != store.Failed || a.Attempts != 4 || a.ExitCode != 3 {
		t.Fatalf("outcome %+v, action %+v; want failed after 4 attempts with exit code 3", out, a)
	}
	atts, err := h.store.Attempts(context.Background(), a.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 4 {
		t.Fatalf("%d attempts journaled, want 4: %+v", len(atts), atts)
	}
	if runs := readFile(t, h.dir+"/runs"); runs != strings.Repeat("run\n", 4) {
		t.Errorf("the script ran %d times, want 4", strings.Count(runs, "run"))
	}
	for i, at := range atts {
		if at.N != i+1 || at.Status != store.Failed {
			t.Errorf("attempt %d: %+v, want number %d failed", i, at, i+1)
		}
	}
	if got, want := obs.of("broken"), "1:failed:final=false 2:failed:final=false 3:failed:final=false 4:failed:final=true"; got != want {
		t.Errorf("attempts seen by the observer:\n got %s\nwant %s", got, want)
	}

	// A timer never fires early, so the lower bounds are exact; the upper
	// bound on the first wait only has to tell B from 4B (a shift by the
	// attempt's number instead of the number of failures so far), which
	// leaves 2B for a loaded machine.
	var waits []time.Duration
	for i := 1; i < len(atts); i++ {
		waits = append(waits, atts[i].Started.Sub(atts[i-1].Finished))
	}
	for i, w := range waits {
		if min := backoff << i; w < min {
			t.Errorf("wait before attempt %d: %v, want at least %v (waits %v)", i+2, w, min, waits)
		}
	}
	if waits[0] >= 3*backoff {
		t.Errorf("wait before attempt 2: %v, want about the backoff %v (waits %v)", waits[0], backoff, waits)
	}
}

// An attempt that succeeds is final even when attempts are left, and no
// further attempt runs.
func TestSuccessfulRetryIsFinal(t *testing.T) {
	h := newHarness(t, 2)
	obs := &finals{}
	h.eng.Observer = obs
	n := node("flaky", `[ -e failed ] || { touch failed; exit 1; }`)
	n.Attempts, n.Backoff = 4, 10*time.Millisecond
	out, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s", n)}})
	if out.Status != store.Succeeded || acts["s/flaky"].Status != store.Succeeded || acts["s/flaky"].Attempts != 2 {
		t.Fatalf("outcome %+v, action %+v; want succeeded on attempt 2", out, acts["s/flaky"])
	}
	if got, want := obs.of("flaky"), "1:failed:final=false 2:succeeded:final=true"; got != want {
		t.Errorf("attempts seen by the observer:\n got %s\nwant %s", got, want)
	}
}

// An attempt ended by a cancelled run is final: no retry follows it,
// however many attempts are left.
func TestCancelledAttemptIsFinal(t *testing.T) {
	h := newHarness(t, 2)
	obs := &finals{}
	h.eng.Observer = obs
	n := node("slow", `touch started; sleep 30`)
	n.Attempts, n.Backoff = 3, 10*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once the script runs, so that the attempt, not the
		// start, is what the cancel ends.
		for ctx.Err() == nil {
			if fileExists(h.dir + "/started") {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	out, acts := h.run(ctx, &plan.Plan{Stages: []*plan.Stage{stage("s", n)}})
	if out.Status != store.Cancelled || acts["s/slow"].Status != store.Cancelled || acts["s/slow"].Attempts != 1 {
		t.Fatalf("outcome %+v, action %+v; want cancelled after 1 attempt", out, acts["s/slow"])
	}
	if got := obs.of("slow"); !strings.HasPrefix(got, "1:") || !strings.HasSuffix(got, ":final=true") || strings.Contains(got, " ") {
		t.Errorf("attempts seen by the observer: %s, want one final attempt", got)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// An action with two needs starts only when both have finished, however
// far apart they finish.
func TestJoinWaitsForEveryNeed(t *testing.T) {
	h := newHarness(t, 3)
	obs := &finals{}
	h.eng.Observer = obs
	out, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s",
		node("slow", "sleep 0.3; touch slow.done"),
		node("fast", "true"),
		node("join", "test -e slow.done", "slow", "fast"),
	)}})
	if out.Status != store.Succeeded || acts["s/join"].Status != store.Succeeded {
		t.Errorf("outcome %+v, join %+v; want join to run after both needs", out, acts["s/join"])
	}
	// Decided once: not skipped when the first need finished, then run.
	if got, want := obs.of("join"), "1:succeeded:final=true"; got != want {
		t.Errorf("join as the observer saw it: %s, want %s", got, want)
	}
}

// A failure that stops the stage ends pending retries, not the result of
// an action that already succeeded on a retry; the run's reason names
// every failed action, the one not retried too.
func TestStageFailureKeepsSucceededRetriesAndNamesEveryFailure(t *testing.T) {
	h := newHarness(t, 3)
	recovered := node("recovered", `[ -e tried ] || { touch tried; exit 1; }`)
	recovered.Attempts, recovered.Backoff = 2, 10*time.Millisecond
	pending := node("pending", "exit 1")
	pending.Attempts, pending.Backoff = 3, time.Minute
	out, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s",
		recovered, pending, node("broken", "sleep 0.5; exit 2"),
	)}})
	if a := acts["s/recovered"]; a.Status != store.Succeeded || a.Attempts != 2 {
		t.Errorf("recovered: %+v; want succeeded on attempt 2", a)
	}
	if a := acts["s/pending"]; a.Status != store.Failed || !strings.Contains(a.Reason, "not retried") {
		t.Errorf("pending: %+v; want failed, not retried", a)
	}
	if out.Status != store.Failed || !strings.Contains(out.Reason, "s/pending") || !strings.Contains(out.Reason, "s/broken") || strings.Contains(out.Reason, "s/recovered") {
		t.Errorf("outcome %+v; want failed naming s/pending and s/broken only", out)
	}
}
