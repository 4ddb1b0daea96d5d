package releases

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// Deploy journals and carries out a deploy of a new release, writing its
// progress lines to log. A deploy of what already serves changes nothing
// (DeployResult.Unchanged).
func (s *Service) Deploy(ctx context.Context, req DeployRequest, log io.Writer) (DeployResult, error) {
	if err := checkDefinition(req.Definition); err != nil {
		return DeployResult{}, err
	}
	if req.Release == "" || len(req.Files) == 0 && req.Service.Image == "" {
		return DeployResult{}, fault.Invalidf("a deploy needs a release name and its files")
	}
	defer s.lock(req.Environment.Name, req.Service.Name)()
	if err := s.pinImage(ctx, &req.Definition, log); err != nil {
		return DeployResult{}, err
	}
	if !req.Replace {
		if err := s.checkOwner(ctx, req.Definition); err != nil {
			return DeployResult{}, err
		}
	}
	d := store.Deployment{
		Environment: req.Environment.Name, Service: req.Service.Name, Release: req.Release,
		RunID: req.RunID, Commit: req.Commit, Files: req.Files,
	}
	if res, ok, err := s.unchanged(ctx, d, req.Definition, log); err != nil || ok {
		return res, err
	}
	return s.carryOut(ctx, d, req.Definition, log)
}

// unchanged answers a deploy of what already serves: the live release
// was deployed from the same files, settings and secrets and all its
// instances are healthy (deploy.Deployer.Unchanged). Nothing is
// journaled: no release was made, and the history keeps saying which
// run's release serves. The caller holds the service's lock.
func (s *Service) unchanged(ctx context.Context, d store.Deployment, def Definition, log io.Writer) (DeployResult, bool, error) {
	req, err := s.request(def, d, io.Discard)
	if err != nil {
		return DeployResult{}, false, err
	}
	ds, err := s.Journal.Deployments(ctx, d.Environment, d.Service)
	if err != nil {
		return DeployResult{}, false, err
	}
	var live *store.Deployment
	for i := range ds {
		if ds[i].Status == store.Live {
			live = &ds[i]
			break
		}
	}
	if live == nil {
		return DeployResult{}, false, nil
	}
	req.Log = log
	res, ok := s.Deployer.Unchanged(req)
	// The journal and the deployer agree on what serves unless a deploy
	// is being restored; then the deploy goes ahead as usual.
	if !ok || res.Release != live.Release {
		return DeployResult{}, false, nil
	}
	return DeployResult{Deployment: live.ID, Release: res.Release, URL: res.URL, Unchanged: true}, true, nil
}

// checkOwner refuses a deploy of a service that is live in the
// environment from another project: the same service name in two
// projects is two services, and replacing one with the other would go
// unnoticed until its users complain. Deployments journaled without a
// project belong to none and are replaced as before. A release the
// journal says is live but this host does not serve (a velocity run that
// hosted it has ended) owns nothing.
func (s *Service) checkOwner(ctx context.Context, def Definition) error {
	if def.Project == "" {
		return nil
	}
	ds, err := s.Journal.Deployments(ctx, def.Environment.Name, def.Service.Name)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.Status != store.Live || !s.serves(d.Environment, d.Service) {
			continue
		}
		if p := ProjectOf(d); p != "" && p != def.Project {
			return fault.Conflictf("%s/%s is live from project %s (release %s); deploy with --replace to take it over, or rename the service",
				def.Environment.Name, def.Service.Name, p, d.Release)
		}
	}
	return nil
}

// serves reports whether a release of service serves in env here.
func (s *Service) serves(env, service string) bool {
	for _, st := range s.Deployer.Statuses() {
		if st.Environment == env && st.Service == service && st.Release != "" {
			return true
		}
	}
	return false
}

func checkDefinition(def Definition) error {
	if def.Service.Name == "" || def.Environment.Name == "" {
		return fault.Invalidf("a deploy needs the service's and the environment's definitions")
	}
	if def.Service.Run == "" && def.Service.Image == "" {
		return fault.Invalidf("service %s has no run: command", def.Service.Name)
	}
	return nil
}

// pinImage resolves the image of a service with one to its ID, which the
// release then runs and the journal keeps (Definition.ImageID).
func (s *Service) pinImage(ctx context.Context, def *Definition, log io.Writer) error {
	if def.Service.Image == "" || def.ImageID != "" || s.Images == nil {
		return nil
	}
	id, err := s.Images.ImageID(ctx, def.Service.Image)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", def.Environment.Name, def.Service.Name, err)
	}
	def.ImageID = id
	if id != def.Service.Image {
		// Said only of a name; an ID (an image a build action made) is
		// what it is.
		fmt.Fprintf(log, "velocity: %s/%s: image %s is %s\n", def.Environment.Name, def.Service.Name, def.Service.Image, shortImageID(id))
	}
	return nil
}

// shortImageID is an image ID as `docker images` shows it.
func shortImageID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	return id[:min(len(id), 12)]
}

// carryOut records d as deploying, deploys it and records the outcome:
// live (replacing the live one as superseded, or rolled-back for a
// rollback) or failed with the first line of the error. The caller holds
// the service's lock.
func (s *Service) carryOut(ctx context.Context, d store.Deployment, def Definition, log io.Writer) (res DeployResult, err error) {
	if s.Meter != nil {
		began := time.Now()
		defer func() {
			s.Meter.DeployFinished(DeployEnd{Project: def.Project, Environment: d.Environment, Service: d.Service,
				Release: d.Release, Rollback: d.Rollback, Err: err, Duration: time.Since(began)})
		}()
	}
	req, err := s.request(def, d, log)
	if err != nil {
		return DeployResult{}, err
	}
	// A rollback puts its own release live, even one built the same as
	// the release serving: the journal must say which one serves.
	req.Redeploy = d.Rollback
	s.noteLimits(def.Service, log)
	if d.Definition, err = encodeDefinition(def); err != nil {
		return DeployResult{}, fmt.Errorf("definition: %w", err)
	}
	d.Status, d.Created = store.Deploying, time.Now()
	if d.ID, err = s.Journal.CreateDeployment(context.WithoutCancel(ctx), d); err != nil {
		return DeployResult{}, err
	}
	// The first line also starts the answer's stream: from here on the
	// outcome, failed or not, is the deploy's, not the request's.
	fmt.Fprintf(log, "velocity: %s/%s: deploying release %s (deployment %d)\n", d.Environment, d.Service, d.Release, d.ID)
	done, err := s.Deployer.Deploy(ctx, req)
	after := context.WithoutCancel(ctx)
	if err != nil {
		reason, _, _ := strings.Cut(err.Error(), "\n")
		if ctx.Err() != nil {
			reason = "cancelled: " + reason
		}
		if jerr := s.Journal.SetDeploymentStatus(after, d.ID, store.DeployFailed, reason, time.Now()); jerr != nil {
			s.log().Error("journal a failed deploy", "deployment", d.ID, "err", jerr)
		}
		return DeployResult{}, err
	}
	replaced := store.Superseded
	if d.Rollback {
		replaced = store.RolledBack
	}
	if err := s.Journal.SetLive(after, d.ID, replaced, time.Now()); err != nil {
		return DeployResult{}, err
	}
	return DeployResult{Deployment: d.ID, Release: done.Release, URL: done.URL, Warm: done.Warm}, nil
}

// request makes the deployer's request: the files from the journal's
// digests, the environment from the server's host and its secrets.
func (s *Service) request(def Definition, d store.Deployment, log io.Writer) (deploy.Request, error) {
	files, err := engine.OutputFiles(d.Files)
	if err != nil {
		return deploy.Request{}, fault.Invalidf("release %s: %v", d.Release, err)
	}
	var env []string
	if s.Env != nil {
		env = s.Env(def.EnvPassthrough, def.Service.Image != "")
	}
	for _, name := range def.Service.Secrets {
		if s.Secrets == nil {
			return deploy.Request{}, fault.Invalidf("secret %s: this server has no secrets", name)
		}
		v, err := s.Secrets.Get(name)
		if err != nil {
			return deploy.Request{}, fault.Invalidf("secret %s of service %s: %v", name, def.Service.Name, err)
		}
		env = append(env, name+"="+string(v))
	}
	return deploy.Request{
		Service: def.Service, Environment: def.Environment, Release: d.Release,
		Files: files, Env: env, Log: log, Ports: def.PortRange.NetRange(), ImageID: def.ImageID,
	}, nil
}
