package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/proxy"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/spec"
)

// This file decides whether a deploy would change anything: a run that
// changed nothing the service is built from must not restart its
// instances (and drop their caches, connections and warm-up) only to put
// the very same program back.

// fingerprintVersion is bumped whenever what fingerprint hashes changes,
// so that old and new fingerprints never compare equal by accident.
const fingerprintVersion = 2

// fingerprint names everything a release's instances are made of: the
// files (paths, modes, digests, link targets), the service's settings,
// the environment's hosts and URL, the port range, the image's ID (a tag
// rebuilt is a new release), and the instances' environment,
// secrets' values included. Only the hash is kept, in memory, so that a
// secret's value is compared without being stored. Positions in
// velocity.yml are left out: moving a service in the file changes
// nothing it runs.
func fingerprint(req Request) string {
	svc, env := req.Service, req.Environment
	svc.Pos, env.Pos = spec.Pos{}, spec.Pos{}
	files := make([]artifact.File, len(req.Files))
	copy(files, req.Files)
	slices.SortFunc(files, func(a, b artifact.File) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	vars := slices.Clone(req.Env)
	slices.Sort(vars)
	b, err := json.Marshal(struct {
		Version     int              `json:"version"`
		Service     spec.Service     `json:"service"`
		Environment spec.Environment `json:"environment"`
		Env         []string         `json:"env"`
		Files       []artifact.File  `json:"files"`
		Ports       [2]int           `json:"ports"`
		ImageID     string           `json:"image_id,omitempty"`
	}{fingerprintVersion, svc, env, vars, files, [2]int{req.Ports.Low, req.Ports.High}, req.ImageID})
	if err != nil {
		// Only plain data is marshalled; should that ever fail, an
		// empty fingerprint matches nothing and the deploy goes ahead.
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Unchanged reports whether the release serving req's service in req's
// environment was deployed from the same files with the same settings,
// environment and secrets, and every one of its instances runs and
// passes its health check; then it writes "ENV/SERVICE RELEASE already
// serves this release" to req.Log and returns that release. A release
// with an instance down is not unchanged: deploying it again is the way
// to get it whole. req.Redeploy makes it false.
func (d *Deployer) Unchanged(req Request) (Result, bool) {
	if req.Redeploy {
		return Result{}, false
	}
	want := fingerprint(req)
	key := req.Environment.Name + "/" + req.Service.Name
	d.mu.Lock()
	dep := d.live[key]
	var cur *release
	if dep != nil {
		cur = dep.current
	}
	ok := want != "" && cur != nil && cur.fingerprint == want && len(cur.instances) == max(req.Service.Replicas, 1)
	if ok {
		for _, in := range cur.instances {
			if in.proc.State() != runtime.StateRunning || in.target == nil || in.target.State() != proxy.StateHealthy {
				ok = false
			}
		}
	}
	d.mu.Unlock()
	if !ok {
		return Result{}, false
	}
	res := d.result(dep, req.Environment, cur.id)
	if req.Log != nil {
		progress(req.Log, "%s %s already serves this release (same files, settings and secrets); nothing was restarted", key, cur.id)
	}
	res.Unchanged = true
	return res, true
}
