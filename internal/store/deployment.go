package store

import (
	"context"
	"time"
)

// DeploymentStatus is where one deploy of a release stands.
type DeploymentStatus string

// Deployment statuses. A deployment starts deploying and ends failed or
// interrupted, or goes live; a live one later becomes superseded (a newer
// deploy replaced it) or rolled-back (a rollback replaced it).
const (
	Deploying         DeploymentStatus = "deploying"
	Live              DeploymentStatus = "live"
	DeployFailed      DeploymentStatus = "failed"
	DeployInterrupted DeploymentStatus = "interrupted"
	Superseded        DeploymentStatus = "superseded"
	RolledBack        DeploymentStatus = "rolled-back"
)

// Deployment is one deploy of a release of a service into an environment,
// recorded before it is carried out. Rolling back to a release records a
// new deployment of that release, so the list of an environment's
// deployments is its history.
type Deployment struct {
	ID          int64  `json:"id"`
	Environment string `json:"environment"`
	Service     string `json:"service"`
	// Release names the release ("r12"); its directory and instances
	// carry the name.
	Release string `json:"release"`
	// RunID is the run whose outputs form the release; Commit is that
	// run's commit, empty outside git.
	RunID  int64            `json:"run_id"`
	Commit string           `json:"commit"`
	Status DeploymentStatus `json:"status"`
	// Reason explains a failed or interrupted deployment, or what a
	// rollback replaced.
	Reason string `json:"reason"`
	// Rollback marks a deployment that put an earlier release back.
	Rollback bool `json:"rollback"`
	// Definition is the service and environment definitions the release
	// was deployed with, opaque to the store (JSON), so that it can be
	// deployed again exactly: by a rollback, or after a restart.
	Definition []byte `json:"definition"`
	// Files are the release's files in the blob store.
	Files   []Output  `json:"files"`
	Created time.Time `json:"created"`
	// Updated is when the status last changed.
	Updated time.Time `json:"updated"`
}

// Deployments is the deployment journal, kept beside the Store by the
// same implementations and checked by the same storetest suite. Methods
// are safe for concurrent use and durable when they return nil; naming a
// deployment that does not exist returns an error wrapping ErrNotFound.
type Deployments interface {
	// CreateDeployment records d (its ID ignored) and returns its ID.
	CreateDeployment(ctx context.Context, d Deployment) (int64, error)
	// SetDeploymentStatus changes a deployment's status and reason.
	SetDeploymentStatus(ctx context.Context, id int64, status DeploymentStatus, reason string, at time.Time) error
	// SetLive marks a deployment live and, in the same transaction, gives
	// the deployment that was live for its environment and service, if
	// any, the status replaced (Superseded or RolledBack).
	SetLive(ctx context.Context, id int64, replaced DeploymentStatus, at time.Time) error
	// Deployment returns one deployment.
	Deployment(ctx context.Context, id int64) (Deployment, error)
	// Deployments lists an environment's deployments of a service,
	// newest first.
	Deployments(ctx context.Context, environment, service string) ([]Deployment, error)
	// EnvironmentDeployments lists every deployment into environment,
	// of every service, oldest first: the history metrics are computed
	// from.
	EnvironmentDeployments(ctx context.Context, environment string) ([]Deployment, error)
	// LiveDeployments lists every live deployment, one per environment
	// and service at most, oldest first.
	LiveDeployments(ctx context.Context) ([]Deployment, error)
	// InterruptDeployments marks every deploying deployment interrupted
	// with reason and returns them.
	InterruptDeployments(ctx context.Context, reason string, at time.Time) ([]Deployment, error)
}
