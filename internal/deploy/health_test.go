package deploy_test

import (
	"strings"
	"testing"
	"time"
)

// failingRelease deploys A, then a release of mode with svc changed by
// change, and returns how long the failed deploy took and its error.
func failingRelease(t *testing.T, mode string, change func(*testing.T, *harness) (deadline time.Duration)) (time.Duration, string) {
	t.Helper()
	h := newHarness(t)
	svc := service("rolling", 1)
	h.mustDeploy(svc, h.release("A", ""))
	svc.Deadline = change(t, h)
	start := time.Now()
	_, err := h.deploy(svc, h.release("B", mode))
	took := time.Since(start)
	if err == nil {
		t.Fatalf("a release that does %q deployed", mode)
	}
	t.Logf("deploy error after %v:\n%v", took, err)
	h.serves("A", 5)
	return took, err.Error()
}

func wantIn(t *testing.T, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("error does not say %q", w)
		}
	}
}

// A health endpoint that keeps answering the same failing status fails
// the deploy once it has for health.fail_after, not at the deadline,
// with that answer and advice that fits it.
func TestSameFailingAnswerFailsEarly(t *testing.T) {
	h := newHarness(t)
	svc := service("rolling", 1)
	h.mustDeploy(svc, h.release("A", ""))
	svc.Deadline = 30 * time.Second
	svc.Health.FailAfter = time.Second
	start := time.Now()
	_, err := h.deploy(svc, h.release("B", "unhealthy"))
	took := time.Since(start)
	if err == nil {
		t.Fatal("a release whose health endpoint answers 500 deployed")
	}
	t.Logf("deploy error after %v:\n%v", took, err)
	if took > 5*time.Second {
		t.Errorf("took %v to fail with health.fail_after 1s (deadline 30s)", took)
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	wantIn(t, first, "instance 1 of release r2 answers 500 Internal Server Error on /healthz (\"unhealthy\")",
		"(health.fail_after 1s)", "the health endpoint itself reports unhealthy", "check the instance's log below")
	if strings.Contains(first, "raise the deploy deadline") {
		t.Errorf("advises more time to an endpoint that says it is unhealthy: %s", first)
	}
	h.serves("A", 5)
}

// A program that answers 503 while it warms up and then 200 deploys:
// the default fail_after outlasts a short warm-up, and a start_period
// covers a longer one.
func TestWarmingUpThenHealthyDeploys(t *testing.T) {
	h := newHarness(t)
	svc := service("rolling", 1)
	h.mustDeploy(svc, h.release("A", "slow=2"))
	h.serves("A", 2)

	svc.Health.FailAfter = time.Second
	svc.Health.StartPeriod = 3 * time.Second
	h.mustDeploy(svc, h.release("B", "slow=2"))
	h.serves("B", 2)
}

// Past the deadline the advice follows what the health check saw last:
// the same failing status, nothing listening, or no answer in time.
func TestDeadlineAdviceFitsTheFailure(t *testing.T) {
	t.Run("same status", func(t *testing.T) {
		_, err := failingRelease(t, "unhealthy", func(*testing.T, *harness) time.Duration { return 2 * time.Second })
		wantIn(t, err, "not healthy after waiting 2", "the instance answers 500 on /healthz: the health endpoint itself reports unhealthy; check the instance's log below")
	})
	t.Run("nothing listens", func(t *testing.T) {
		_, err := failingRelease(t, "deaf", func(*testing.T, *harness) time.Duration { return 2 * time.Second })
		wantIn(t, err, "nothing listens on $PORT (connection refused): does the program listen on $PORT", "listening on :3000")
	})
	t.Run("timeout", func(t *testing.T) {
		_, err := failingRelease(t, "hang", func(*testing.T, *harness) time.Duration { return 3 * time.Second })
		wantIn(t, err, "answers slower than the health check timeout: raise services.web.health.timeout (now 1s)")
	})
}
