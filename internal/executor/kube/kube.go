// Package kube runs steps as Kubernetes Pods, through the API server
// (internal/kube, a small REST client: not client-go, see there why).
//
// Each step is one Pod of Step.Image with one container and
// restartPolicy Never, deleted when the step ends, so nothing a step
// started outlives it: when the container's first process (the init
// script in init.go) exits, the kernel kills whatever is left in the
// container's PID namespace. The step's environment is a Secret made for
// the step, which the pod's env refers to key by key, so values (tokens,
// passwords) are not in the pod's spec for anyone who may read pods; it is
// deleted with the pod. Step.User becomes the pod's runAsUser/runAsGroup
// (numeric only: the API has no user names), Step.Limits its
// resources.limits. The output is the container's log, followed while it
// runs; the exit status is the container's terminated state. Cancelling
// deletes the pod with Step.KillGrace as its grace period: the kubelet sends
// SIGTERM, which the init script passes on to every process of the step,
// and SIGKILL after the grace.
//
// Step.Sidecars are native sidecars of the step's pod (sidecar.go):
// init containers that run beside the step's container, reached by their
// names on the pod's loopback.
//
// The workspace is shared in "same machine" mode only, for now: Run.Dir
// and Run.Scratch are hostPath volumes mounted at the same path as on
// Velocity's host, so Step.Dir, FilesIn and FilesOut need no translation
// and the engine reads outputs where it expects them. That holds only
// when the pods run on the machine that holds the workspace (a
// single-node cluster on Velocity's machine, or Options.Node naming
// Velocity's node), and needs the right to use hostPath volumes.
// Streaming the workspace to a pod on any node and the changed files back
// is the next step (docs/kubernetes.md).
//
// Everything the executor creates carries the label RunLabel naming its
// run; Cleanup deletes by that label. It also carries the Velocity process
// that made it (OwnerAnnotation): New deletes what processes of its host
// that are gone left behind.
package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/owner"
	"github.com/velocity-ci/velocity/internal/kube"
)

// RunLabel names the run a pod or secret belongs to.
const RunLabel = "io.velocity/run"

// OwnerAnnotation names the Velocity process that created a pod or secret
// ("HOST/PID/START", internal/executor/owner); HostLabel, a hash of the
// host's name (a label's value is short), selects those of this host.
const (
	OwnerAnnotation = kube.OwnerAnnotation
	HostLabel       = kube.HostLabel
)

// Options configure an Executor.
type Options struct {
	// Namespace is where the pods and secrets are created; it must exist.
	Namespace string
	// DefaultImage runs the steps that name no image; empty fails them.
	DefaultImage string
	// PullPolicy is the pods' imagePullPolicy ("Never" for images loaded
	// into the nodes beforehand); empty is the cluster's default.
	PullPolicy string
	// Node pins the pods to a node: the one holding the workspace.
	Node string
	// Images says how a pod gets a step's image (an image Velocity built
	// reaches the cluster through its registry); nil names every image
	// as the step does.
	Images Images
	// Logger receives what the executor cleans up on its own; nil
	// discards it.
	Logger *slog.Logger
}

// Images makes an image pullable by the cluster's nodes
// (clusterimages.Publisher).
type Images interface {
	Pullable(ctx context.Context, image string) (kube.Pull, error)
}

// Executor runs steps as pods.
type Executor struct {
	c     *kube.Client
	opt   Options
	uid   int64
	gid   int64
	owner string
	host  string
}

var _ executor.Executor = (*Executor)(nil)

// New makes an executor creating pods through c in opt.Namespace, and
// deletes the pods and secrets there that Velocity processes of this host
// left behind when they were killed.
func New(ctx context.Context, c *kube.Client, opt Options) (*Executor, error) {
	if opt.Namespace == "" {
		return nil, errors.New("kubernetes executor: no namespace")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	self, err := owner.Self()
	if err != nil {
		return nil, fmt.Errorf("kubernetes executor: %w", err)
	}
	e := &Executor{c: c, opt: opt, uid: int64(os.Getuid()), gid: int64(os.Getgid()), owner: self, host: kube.HostHash()}
	e.sweep(ctx)
	return e, nil
}

// labels are the labels of the run's objects.
func (w *Workspace) labels() map[string]string {
	return map[string]string{RunLabel: w.name, HostLabel: w.e.host}
}

// annotations are the annotations of the run's objects.
func (w *Workspace) annotations() map[string]string {
	return map[string]string{OwnerAnnotation: w.e.owner}
}

// sweep deletes the pods and secrets of Velocity processes of this host
// that are gone.
func (e *Executor) sweep(ctx context.Context) {
	kube.DeleteOrphans(ctx, e.c, e.opt.Namespace, "", []string{"pods", "secrets"}, e.opt.Logger)
}

// Capabilities implements executor.Executor: images, limits (the
// kubelet enforces resources.limits with the container's cgroup), and
// sidecars as containers of the step's pod (sidecar.go).
func (e *Executor) Capabilities() executor.Capabilities {
	return executor.Capabilities{Image: true, Limits: true, Sidecars: true}
}

// Prepare implements executor.Executor. Nothing is shared by the run's
// pods but the workspace on the node, so it only checks the directories
// and names the run: Run.ID with a random suffix, since two Velocity
// processes may both have a run 1.
func (e *Executor) Prepare(ctx context.Context, run executor.Run) (executor.Workspace, error) {
	for _, dir := range []string{run.Dir, run.Scratch} {
		if dir == "" {
			continue
		}
		if !filepath.IsAbs(dir) {
			return nil, fmt.Errorf("prepare run %s: %s is not an absolute path", run.ID, dir)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("prepare run %s: %w", run.ID, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("prepare run %s: %s is not a directory", run.ID, dir)
		}
	}
	var suffix [4]byte
	rand.Read(suffix[:])
	id := strings.ToLower(run.ID)
	// A label value has at most 63 characters; a pod's name adds "-N".
	if len(id) > 40 {
		id = id[:40]
	}
	name := strings.Trim("velocity-"+id, "-") + "-" + hex.EncodeToString(suffix[:])
	return &Workspace{e: e, run: run, name: name}, nil
}

// Workspace is a prepared run.
type Workspace struct {
	e    *Executor
	run  executor.Run
	name string
	seq  atomic.Int64

	steps executor.Steps
}

var _ executor.Workspace = (*Workspace)(nil)

// Name is the run's name: the value of RunLabel on its objects.
func (w *Workspace) Name() string { return w.name }

// Cleanup implements executor.Workspace: it deletes every pod and secret
// of the run still there (a step's own deletion failed).
func (w *Workspace) Cleanup(ctx context.Context) error {
	w.steps.Close()
	ctx = context.WithoutCancel(ctx)
	sel := RunLabel + "=" + w.name
	var errs []error
	for _, res := range []string{"pods", "secrets"} {
		if err := w.e.c.DeleteCollection(ctx, w.e.opt.Namespace, res, sel); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up run %s: %w", w.run.ID, err)
	}
	return nil
}

// check refuses a step that cannot run as asked.
func (w *Workspace) check(step executor.Step) error {
	switch {
	case step.Script != "" && step.Command != nil:
		return fmt.Errorf("%s: both a script and a command", step.Name)
	case step.Script == "" && len(step.Command) == 0:
		return fmt.Errorf("%s: neither a script nor a command", step.Name)
	case step.Command != nil && step.Command[0] == "":
		return fmt.Errorf("%s: command %q is not a program name", step.Name, step.Command[0])
	case step.Image == "" && w.e.opt.DefaultImage == "":
		return fmt.Errorf("%s: no image to run the step in", step.Name)
	}
	inside := false
	for _, m := range []string{w.run.Dir, w.run.Scratch} {
		if m != "" && within(step.Dir, m) {
			inside = true
		}
	}
	if !inside {
		return fmt.Errorf("%s: working directory %s is not in the run's workspace", step.Name, step.Dir)
	}
	for _, f := range append(step.FilesIn[:len(step.FilesIn):len(step.FilesIn)], step.FilesOut...) {
		if !filepath.IsLocal(f.Path) {
			return fmt.Errorf("%s: file %q is not inside the working directory", step.Name, f.Path)
		}
	}
	return nil
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// user turns Step.User into a uid and gid; empty is Velocity's own, so
// that what steps write in the workspace stays Velocity's.
func (e *Executor) user(step executor.Step) (uid, gid *int64, err error) {
	if step.User == "" {
		return &e.uid, &e.gid, nil
	}
	u, g, hasGroup := strings.Cut(step.User, ":")
	n, err := strconv.ParseInt(u, 10, 64)
	if err != nil || n < 0 {
		return nil, nil, fmt.Errorf("%s: user %q: Kubernetes runs a pod as a numeric uid only: %w", step.Name, step.User, executor.ErrUnsupported)
	}
	uid = &n
	if hasGroup {
		m, err := strconv.ParseInt(g, 10, 64)
		if err != nil || m < 0 {
			return nil, nil, fmt.Errorf("%s: user %q: Kubernetes runs a pod as a numeric gid only: %w", step.Name, step.User, executor.ErrUnsupported)
		}
		gid = &m
	}
	return uid, gid, nil
}

// Namespace is where the executor creates its pods.
func (e *Executor) Namespace() string { return e.opt.Namespace }
