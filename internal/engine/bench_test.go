package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/plan"
)

// BenchmarkChain50 runs 50 no-op actions chained by needs; compare with
// bench/overhead.sh for the whole command.
func BenchmarkChain50(b *testing.B) {
	t := &testing.T{}
	h := newHarness(t, 2)
	defer reportCPU(b)()
	for b.Loop() {
		var nodes []*plan.Node
		for i := range 50 {
			n := node(fmt.Sprint("a", i), "true")
			if i > 0 {
				n.NeedNames = []string{fmt.Sprint("a", i-1)}
			}
			nodes = append(nodes, n)
		}
		h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s", nodes...)}})
	}
}

// BenchmarkChain50Cached runs 50 chained actions that are all cache hits
// (the first, unmeasured run stores them): the path the key's parts are
// recorded on for every action.
func BenchmarkChain50Cached(b *testing.B) {
	benchChain50Cache(b, false)
}

// BenchmarkChain50Missed runs 50 chained actions that all execute although
// an earlier run of each succeeded, so every one explains its miss.
func BenchmarkChain50Missed(b *testing.B) {
	benchChain50Cache(b, true)
}

func benchChain50Cache(b *testing.B, change bool) {
	t := &testing.T{}
	h := newHarness(t, 2)
	blobs, err := artifact.OpenBlobs(filepath.Join(b.TempDir(), "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	h.eng.Blobs = blobs
	os.WriteFile(filepath.Join(h.dir, "in.txt"), []byte("0"), 0o644)
	runs := 0
	run := func() {
		if change {
			runs++
			os.WriteFile(filepath.Join(h.dir, "in.txt"), []byte(fmt.Sprint(runs)), 0o644)
		}
		var nodes []*plan.Node
		for i := range 50 {
			n := node(fmt.Sprint("a", i), "true")
			n.Inputs = []string{"in.txt"}
			if i > 0 {
				n.NeedNames = []string{fmt.Sprint("a", i-1)}
			}
			nodes = append(nodes, n)
		}
		h.run(context.Background(), &plan.Plan{Project: "p", Stages: []*plan.Stage{stage("s", nodes...)}})
	}
	run()
	defer reportCPU(b)()
	for b.Loop() {
		run()
	}
}

// reportCPU adds the CPU time of this process (user and system, all its
// threads, not the actions' shells) per operation to the benchmark's
// figures, as engine-cpu-ms/op: on a shared machine the figure that
// follows the engine's own work, where ns/op also follows the shells and
// the load.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(time.Millisecond)/float64(b.N), "engine-cpu-ms/op")
	}
}
