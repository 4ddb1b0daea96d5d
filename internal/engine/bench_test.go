package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/velocity-ci/velocity/internal/plan"
)

// BenchmarkChain50 runs 50 no-op actions chained by needs; compare with
// bench/overhead.sh for the whole command.
func BenchmarkChain50(b *testing.B) {
	t := &testing.T{}
	h := newHarness(t, 2)
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
