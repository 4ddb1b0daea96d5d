package scaffold

// plan is what Generate decided about a project, before it is rendered as
// commented YAML. Keeping decisions and rendering apart lets every kind
// share one layout and one quoting routine.
type plan struct {
	kind Kind
	// found says which marker led to the kind, for the header comment.
	found string
	// envExample is a commented-out example entry for the env key that
	// makes sense for this kind, as "KEY: value".
	envExample string
	// notes are comment lines placed above the stage: what was left out
	// and why, so that users know what to add.
	notes   []string
	actions []action
}

// action is one generated action.
type action struct {
	name string
	// comment says what the action is for; rendered above it.
	comment string
	run     string
	needs   []string
	// env is the action's own environment.
	env map[string]string
	// cache lists dependency folders kept between runs, restored before
	// the action and saved after it succeeds; cacheKey lists the files
	// (lockfiles) whose contents pick the cache entry. cacheComment says
	// why these paths, rendered above cache.
	cache        []string
	cacheKey     []string
	cacheComment string
	// timeout and retry are written verbatim when set, e.g. "30m" and
	// "{attempts: 2, backoff: 10s}".
	timeout string
	retry   string
}

// testTimeout bounds test actions: generous enough for real suites, but it
// stops a hung test from holding a runner forever.
const testTimeout = "30m"

// installRetry retries dependency installs, the one step whose failures are
// most often a flaky network rather than a broken project.
const installRetry = "{attempts: 2, backoff: 10s}"
