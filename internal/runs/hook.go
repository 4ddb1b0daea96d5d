package runs

import (
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// Hook is told how the runs this service executes and their actions end:
// metrics count them, alerts tell a team of failures. Its methods are
// called from the goroutines executing runs, so they must return at once
// (queue what is slow) and be safe for concurrent use.
type Hook interface {
	// ActionFinished is called once per action that took its final
	// attempt (actions skipped without running are not reported).
	ActionFinished(a ActionEnd)
	// RunFinished is called once per run, after the journal says how it
	// ended.
	RunFinished(r store.Run)
}

// ActionEnd is how one action of a run ended.
type ActionEnd struct {
	Project string
	// Action is "stage/name".
	Action string
	Status store.Status
	// Duration is the final attempt's, from its start to its end.
	Duration time.Duration
	// Keyed is set when the action had a result-cache key: a cached
	// status is a hit, any other a miss.
	Keyed bool
}
