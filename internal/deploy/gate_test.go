package deploy_test

import (
	"testing"
	"time"
)

// An instance that exits twice before it serves is waited for (the
// supervisor restarts it); the third exit before a passing health check
// fails the deploy as a crash loop, although the fourth start would
// have served.
func TestCrashLoopLimitIsThreeExits(t *testing.T) {
	t.Run("two exits", func(t *testing.T) {
		h := newHarness(t)
		svc := service("rolling", 1)
		h.mustDeploy(svc, h.release("A", "crashes=2"))
		h.serves("A", 5)
	})
	t.Run("three exits", func(t *testing.T) {
		h := newHarness(t)
		svc := service("rolling", 1)
		svc.Deadline = 15 * time.Second
		id, err := h.deploy(svc, h.release("A", "crashes=3"))
		if err == nil {
			t.Fatal("a release that exited 3 times before becoming healthy was deployed")
		}
		wantIn(t, err.Error(), "instance 1 of release "+id+" exited with code 3 before becoming healthy (3 exits in")
	})
}
