package releases

import (
	"encoding/json"
	"time"

	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

// ServiceStatus is what serves one service in one environment.
type ServiceStatus = deploy.Status

// Definition is what a release is deployed with; it is journaled with
// every deployment so that the release can be deployed again exactly.
type Definition struct {
	Service     spec.Service     `json:"service"`
	Environment spec.Environment `json:"environment"`
	// EnvPassthrough is the pipeline's env_passthrough: the server's own
	// variables of those names reach the instances.
	EnvPassthrough []string `json:"env_passthrough,omitempty"`
	// Project is the name of the pipeline that deployed it: a service name
	// is unique within a project only, so a deploy from another project
	// must not replace it unnoticed.
	Project string `json:"project,omitempty"`
	// PortRange bounds the instances' ports as the deploying run asked
	// (--port-range, port_range); nil leaves them to the server's range.
	PortRange *PortRange `json:"port_range,omitempty"`
	// ImageID is the image Service.Image named when the release was
	// first deployed ("sha256:..."): a rollback or a restored release
	// runs that image, wherever the tag has moved since.
	ImageID string `json:"image_id,omitempty"`
}

// PortRange is an inclusive range of ports.
type PortRange struct {
	Low  int `json:"low"`
	High int `json:"high"`
	// Source says where the range was set, for messages.
	Source string `json:"source,omitempty"`
}

// PortRangeOf is r for a Definition; nil for the zero Range.
func PortRangeOf(r netport.Range) *PortRange {
	if r.IsZero() {
		return nil
	}
	return &PortRange{Low: r.Low, High: r.High, Source: r.Source}
}

// NetRange is the range for the runtime; zero for nil.
func (p *PortRange) NetRange() netport.Range {
	if p == nil {
		return netport.Range{}
	}
	return netport.Range{Low: p.Low, High: p.High, Source: p.Source}
}

// DeployRequest deploys a release made of a run's outputs.
type DeployRequest struct {
	Definition
	// Release names the release ("r12"): unique per run.
	Release string `json:"release"`
	RunID   int64  `json:"run_id"`
	Commit  string `json:"commit,omitempty"`
	// Files are the outputs of the service's from action, in the blob
	// store of the server's data directory; none for a service with an
	// image.
	Files []store.Output `json:"files"`
	// Replace lets the deploy take over a service that is live from
	// another project.
	Replace bool `json:"replace,omitempty"`
}

// RollbackRequest puts an earlier release of a service back.
type RollbackRequest struct {
	Environment string `json:"environment"`
	Service     string `json:"service"`
	// To names the release; empty means the one that served before the
	// live one.
	To string `json:"to,omitempty"`
}

// DeployResult is a deploy that went live.
type DeployResult struct {
	Deployment int64  `json:"deployment"`
	Release    string `json:"release"`
	URL        string `json:"url"`
	// Warm: traffic switched back to a blue-green release still running.
	Warm bool `json:"warm,omitempty"`
	// Unchanged: the live release was deployed from the same files and
	// settings, so nothing was deployed; Deployment and Release name it.
	Unchanged bool `json:"unchanged,omitempty"`
}

// Release is one deployment of a service, as `velocity releases` shows it.
type Release struct {
	Deployment int64                  `json:"deployment"`
	Release    string                 `json:"release"`
	RunID      int64                  `json:"run_id"`
	Commit     string                 `json:"commit,omitempty"`
	Status     store.DeploymentStatus `json:"status"`
	Reason     string                 `json:"reason,omitempty"`
	Rollback   bool                   `json:"rollback,omitempty"`
	// Project deployed it, from its definition; empty for deployments
	// journaled before projects were.
	Project string    `json:"project,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Status is what a host runs.
type Status struct {
	// Host names the command hosting: "velocity serve", "velocity run";
	// empty from hosts that did not say.
	Host    string `json:"host,omitempty"`
	Version string `json:"version"`
	// ProxyURL is where the proxy listens ("http://127.0.0.1:8080").
	ProxyURL string          `json:"proxy_url"`
	Pid      int             `json:"pid"`
	Services []ServiceStatus `json:"services"`
}

// ReleaseOf is the journaled deployment d as a release.
func ReleaseOf(d store.Deployment) Release {
	return Release{
		Deployment: d.ID, Release: d.Release, RunID: d.RunID, Commit: d.Commit, Status: d.Status,
		Reason: d.Reason, Rollback: d.Rollback, Project: ProjectOf(d), Created: d.Created, Updated: d.Updated,
	}
}

// ProjectOf is the project d's journaled definition names; "" when it
// names none or cannot be read.
func ProjectOf(d store.Deployment) string {
	var def struct {
		Project string `json:"project"`
	}
	if json.Unmarshal(d.Definition, &def) != nil {
		return ""
	}
	return def.Project
}
