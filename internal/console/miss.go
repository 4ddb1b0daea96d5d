package console

import (
	"fmt"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/plan"
)

var _ engine.MissObserver = (*Console)(nil)

// CacheMiss implements engine.MissObserver: the reason stays on screen,
// above the live view or among the plain lines, so that an unexpected
// rebuild is explained where it is seen.
func (c *Console) CacheMiss(n *plan.Node, reason string) {
	c.message(fmt.Sprintf("[%s] %s\n", n.ID(), reason))
}
