package runs

import (
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/spec"
)

// Size says how many stages and actions pipeline p runs once compiled
// (what velocity validate reports).
func Size(p *spec.Pipeline) (stages, actions int) {
	pl := plan.Compile(p)
	return len(pl.Stages), pl.Len()
}
