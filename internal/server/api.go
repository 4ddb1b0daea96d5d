package server

import (
	"github.com/velocity-ci/velocity/internal/releases"
)

// Routes of the control API.
const (
	pathStatus   = "/v1/status"
	pathDeploy   = "/v1/deploy"
	pathRollback = "/v1/rollback"
	pathReleases = "/v1/releases"
	pathShutdown = "/v1/shutdown"
)

// The bodies of the control API are the releases service's own types.
type (
	Definition      = releases.Definition
	PortRange       = releases.PortRange
	DeployRequest   = releases.DeployRequest
	RollbackRequest = releases.RollbackRequest
	DeployResult    = releases.DeployResult
	Release         = releases.Release
	Status          = releases.Status
)

// Event is one line of a deploy's answer.
type Event struct {
	Log    string        `json:"log,omitempty"`
	Result *DeployResult `json:"result,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// errorBody is the answer of a request that failed.
type errorBody struct {
	Error string `json:"error"`
}
