package releases

import "time"

// Meter is told how each deploy and rollback this service carries out
// ended: metrics count them, alerts tell a team of failures. It is called
// from the deploying goroutine, so it must return at once.
type Meter interface {
	DeployFinished(d DeployEnd)
}

// DeployEnd is how one deploy or rollback ended.
type DeployEnd struct {
	// Project is the pipeline that deployed the release.
	Project     string
	Environment string
	Service     string
	Release     string
	Rollback    bool
	// Err is nil when the release went live.
	Err      error
	Duration time.Duration
}
