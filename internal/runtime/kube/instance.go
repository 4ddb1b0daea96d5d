package pods

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/secret"
)

// apiTimeout bounds one call to the API server made outside a caller's
// context: a hung server must not hang a supervisor forever.
const apiTimeout = 30 * time.Second

// startWait bounds how long a restarted pod may take to run: beyond it
// the attempt counts as failed and a new pod is tried after the backoff.
const startWait = 2 * time.Minute

// goneWait bounds how long Stop waits, after the grace period, for the
// kubelet to remove a deleted pod.
const goneWait = 30 * time.Second

// logSettle is how long the log stream may take to end on its own once
// the container ended: the kubelet notices the end of a followed
// container only every few seconds, while what it printed arrives at
// once; the stream is cut after it.
const logSettle = 300 * time.Millisecond

// containerName is the instance's container in its pods.
const containerName = "service"

// waitingFailures are the reasons a container waits that will not pass
// on their own: the attempt fails at once.
var waitingFailures = map[string]bool{
	"ErrImageNeverPull": true,
	"InvalidImageName":  true,
	"ImagePullBackOff":  true,
	"ErrImagePull":      true,
}

// instance implements runtime.Instance for a series of pods behind one
// forwarder. The supervisor goroutine owns the pods; the methods here read
// its published state or ask it to stop.
type instance struct {
	r       *Runtime
	spec    runtime.Spec
	id      string
	name    string // objectName(id): the Secret, the pods' prefix
	port    int
	addr    string     // set by create
	fwd     *forwarder // set by create
	pull    kube.Pull  // set by create: the image's reference and pull secret
	grace   time.Duration
	backoff *runtime.Backoff
	log     *runtime.Log
	logger  *slog.Logger
	seq     int // pods made so far; owned by Start, then the supervisor

	// Supervision reports State, Restarts and Exits and carries Stop.
	*runtime.Supervision
}

var _ runtime.Instance = (*instance)(nil)

func newInstance(r *Runtime, s runtime.Spec, id string, log *runtime.Log, logger *slog.Logger) *instance {
	grace := s.StopGrace
	if grace <= 0 {
		grace = runtime.DefaultStopGrace
	}
	port := s.Port
	if port == 0 {
		port = DefaultPort
	}
	return &instance{
		r: r, spec: s, id: id, name: objectName(id), port: port, grace: grace,
		backoff: runtime.NewBackoff(s.Restart), log: log, logger: logger,
		Supervision: runtime.NewSupervision(id),
	}
}

func (i *instance) ID() string   { return i.id }
func (i *instance) Addr() string { return i.addr }

// KeepsAddr says that Addr is Velocity's relay, listening while the
// instance restarts: the deployer must not take it for another program.
func (i *instance) KeepsAddr() bool          { return true }
func (i *instance) LastLines(n int) []string { return i.log.LastLines(n) }
func (i *instance) Logs(ctx context.Context, tail int) (io.ReadCloser, error) {
	return i.log.Follow(ctx, tail), nil
}

func (i *instance) labels() map[string]string {
	return map[string]string{LabelInstance: i.name, LabelRuntime: i.r.self, LabelManaged: "1", kube.HostLabel: i.r.host,
		LabelService: labelValue(i.spec.Service), LabelEnvironment: labelValue(i.spec.Environment)}
}

func (i *instance) meta(name string) kube.ObjectMeta {
	return kube.ObjectMeta{Name: name, Labels: i.labels(), Annotations: map[string]string{
		kube.OwnerAnnotation: i.r.owner, "velocity.instance-id": i.id, "velocity.service": i.spec.Service,
		"velocity.environment": i.spec.Environment, "velocity.release": i.spec.Release,
	}}
}

// create makes what lasts for the life of the instance: the Secret
// holding its environment and the forwarder giving it a stable address.
func (i *instance) create(ctx context.Context) error {
	c, ns := i.r.c, i.r.ns
	env := runtime.InstanceEnv(i.spec.Env, i.port, i.id)
	data := kube.EnvData(env)
	i.pull = kube.Pull{Ref: i.spec.Image}
	if i.r.images != nil {
		pull, err := i.r.images.Pullable(ctx, i.spec.Image)
		if err != nil {
			return err
		}
		i.pull = pull
	}
	bg := context.WithoutCancel(ctx)
	if err := c.CreateSecret(bg, ns, &kube.Secret{Metadata: i.meta(i.name), Type: "Opaque", Data: data}); err != nil {
		return fmt.Errorf("create the secret of its environment: %w", err)
	}
	if s := i.pull.PullSecret(i.meta(i.pullSecret())); s != nil {
		if err := c.CreateSecret(bg, ns, s); err != nil {
			return fmt.Errorf("create the pull secret of its image: %w", err)
		}
	}
	f, err := newForwarder()
	if err != nil {
		return fmt.Errorf("listen for its address: %w", err)
	}
	i.fwd, i.addr = f, f.addr()
	return nil
}

// pod is the spec of the instance's next pod.
func (i *instance) pod(name string) *kube.Pod {
	env := runtime.InstanceEnv(i.spec.Env, i.port, i.id)
	vars := kube.EnvFrom(env, i.name)
	var res kube.Resources
	if i.spec.Memory > 0 || i.spec.CPU > 0 {
		res.Limits = map[string]string{}
		if i.spec.Memory > 0 {
			res.Limits["memory"] = strconv.FormatInt(i.spec.Memory, 10)
		}
		if i.spec.CPU > 0 {
			res.Limits["cpu"] = kube.Quantity(i.spec.CPU)
		}
	}
	ctr := kube.Container{Name: containerName, Image: i.pull.Ref, ImagePullPolicy: i.r.pull, Env: vars, Resources: res,
		ReadinessProbe: readiness(i.spec.Health, i.port)}
	if i.spec.Command != "" {
		ctr.Command = []string{"/bin/sh", "-c", i.spec.Command}
	}
	off := false
	grace := kube.GraceSeconds(i.grace)
	var pullSecrets []kube.LocalObjectRef
	if i.pull.Registry != "" {
		pullSecrets = []kube.LocalObjectRef{{Name: i.pullSecret()}}
	}
	return &kube.Pod{
		Metadata: i.meta(name),
		Spec: kube.PodSpec{
			// Velocity supervises: the kubelet must not restart behind
			// its back, and a new pod is what a restart makes.
			RestartPolicy:                 "Never",
			AutomountServiceAccountToken:  &off,
			EnableServiceLinks:            &off,
			TerminationGracePeriodSeconds: &grace,
			Containers:                    []kube.Container{ctr},
			ImagePullSecrets:              pullSecrets,
		},
	}
}

// pullSecret names the instance's pull secret, when its image needs one.
func (i *instance) pullSecret() string { return i.name + "-pull" }

// run is one pod of the instance.
type run struct {
	pod     string
	started time.Time
	// up is closed once the container runs or has ended.
	up chan struct{}
	// end receives once, when the container ended or the pod is gone.
	end chan exitStatus
	// gone is closed once the pod is deleted.
	gone   chan struct{}
	logs   *follower
	cancel context.CancelFunc
}

type exitStatus struct {
	ended time.Time
	what  string // "exited with code 3"
	// never: the container never ran (its image is missing, ...).
	never bool
}

// run creates the instance's next pod and waits, within ctx, until its
// container runs or ended.
func (i *instance) run(ctx context.Context) (*run, error) {
	i.seq++
	name := i.name + "-" + strconv.Itoa(i.seq)
	created, err := i.r.c.CreatePod(context.WithoutCancel(ctx), i.r.ns, i.pod(name))
	if err != nil {
		return nil, fmt.Errorf("create pod: %w", err)
	}
	bg, cancel := context.WithCancel(context.Background())
	r := &run{pod: name, started: time.Now(), up: make(chan struct{}), end: make(chan exitStatus, 1),
		gone: make(chan struct{}), cancel: cancel,
		logs: &follower{c: i.r.c, ns: i.r.ns, pod: name, out: secret.NewMasker(i.log, i.spec.Secrets)}}
	go i.watch(bg, r, created.Metadata.ResourceVersion)
	select {
	case <-r.up:
		return r, nil
	case st := <-r.end:
		// Ended before it ran: hand the end back to the supervisor.
		r.end <- st
		if st.never {
			i.endRun(r)
			return nil, errors.New(st.what)
		}
		return r, nil
	case <-ctx.Done():
		i.endRun(r)
		return nil, fmt.Errorf("pod %s did not start: %w", name, ctx.Err())
	}
}

// watch follows the run's pod until bg ends: it opens the log stream once
// the container runs and reports its end and its deletion.
func (i *instance) watch(bg context.Context, r *run, rv string) {
	var upOnce, endOnce, goneOnce sync.Once
	up := func() {
		upOnce.Do(func() {
			r.logs.start(bg)
			close(r.up)
		})
	}
	end := func(st exitStatus) { endOnce.Do(func() { r.end <- st }) }
	handle := func(ev kube.Event) bool {
		if ev.Type == "DELETED" {
			end(exitStatus{ended: time.Now(), what: "was deleted from the cluster"})
			goneOnce.Do(func() { close(r.gone) })
			return false
		}
		p := &ev.Object
		st := containerState(p)
		switch {
		case st.Terminated != nil:
			if st.Terminated.Reason == "StartError" || st.Terminated.Reason == "ContainerCannotRun" {
				end(exitStatus{ended: time.Now(), what: fmt.Sprintf("could not start (%s: %s)", st.Terminated.Reason, st.Terminated.Message), never: true})
				return true
			}
			up()
			end(exitStatus{ended: time.Now(), what: describeExit(st.Terminated)})
		case p.Metadata.DeletionTimestamp != nil:
			// Being deleted (by Stop, or from outside: an eviction,
			// kubectl delete): its network may go any moment, so new
			// connections wait for the next pod rather than a dial
			// to an address that no longer answers.
			i.fwd.point("")
		case st.Running != nil && p.Status.PodIP != "":
			i.fwd.point(hostPort(p.Status.PodIP, i.port))
			up()
		case st.Waiting != nil && kube.PullMayRecover(st.Waiting.Reason, i.pull.Registry != "", r.started):
			// The kubelet pulls again.
		case st.Waiting != nil && waitingFailures[st.Waiting.Reason]:
			end(exitStatus{ended: time.Now(), what: fmt.Sprintf("could not start in image %s (%s: %s)", i.spec.Image, st.Waiting.Reason, st.Waiting.Message), never: true})
		case p.Status.Phase == "Failed":
			end(exitStatus{ended: time.Now(), what: fmt.Sprintf("pod failed (%s: %s)", p.Status.Reason, p.Status.Message), never: true})
		}
		return true
	}
	for bg.Err() == nil {
		err := i.r.c.WatchPod(bg, i.r.ns, r.pod, rv, func(ev kube.Event) bool {
			rv = ev.Object.Metadata.ResourceVersion
			return handle(ev)
		})
		if bg.Err() != nil || err == nil {
			return
		}
		// Ended by the server or the connection: read the pod again,
		// which also tells what happened in between.
		ctx, cancel := context.WithTimeout(bg, apiTimeout)
		p, gerr := i.r.c.GetPod(ctx, i.r.ns, r.pod)
		cancel()
		switch {
		case kube.IsNotFound(gerr):
			handle(kube.Event{Type: "DELETED"})
			return
		case gerr != nil:
			i.logger.Warn("watching a pod", "pod", r.pod, "err", err, "then", gerr)
			select {
			case <-time.After(time.Second):
			case <-bg.Done():
			}
		default:
			rv = p.Metadata.ResourceVersion
			if !handle(kube.Event{Type: "MODIFIED", Object: *p}) {
				return
			}
		}
	}
}

func containerState(p *kube.Pod) kube.ContainerState {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == containerName {
			return cs.State
		}
	}
	return kube.ContainerState{}
}

// describeExit says how a container ended, for a user.
func describeExit(t *kube.StateTerminated) string {
	switch {
	case t.Reason == "OOMKilled":
		return fmt.Sprintf("was killed for exceeding its memory limit (exit code %d)", t.ExitCode)
	case t.ExitCode > 128 && t.ExitCode < 128+65:
		return fmt.Sprintf("was killed by signal %d (exit code %d)", t.ExitCode-128, t.ExitCode)
	}
	return fmt.Sprintf("exited with code %d", t.ExitCode)
}

// supervise runs for the life of the instance: it waits for the pod to
// end and starts a new one after a backoff, until Stop.
func (i *instance) supervise(r *run) {
	var startErr error
	for {
		var what string
		var uptime time.Duration
		if r != nil {
			var st exitStatus
			select {
			case <-i.StopRequested():
				i.terminate(r)
				i.remove()
				i.finish(runtime.StateStopped)
				return
			case st = <-r.end:
			}
			i.endRun(r)
			what, uptime = st.what, st.ended.Sub(r.started)
			if st.never {
				r = nil
			}
		} else {
			what = fmt.Sprintf("could not be started (%v)", startErr)
		}
		if !i.AwaitRestart(what, uptime, r == nil, i.backoff, i.log, i.logger) {
			i.remove()
			i.finish(runtime.StateStopped)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), startWait)
		r, startErr = i.run(ctx)
		cancel()
		if startErr != nil {
			continue
		}
		i.Running(true)
		i.logger.Info("instance restarted", "pod", r.pod)
	}
}

// endRun finishes reading an ended run's output and deletes its pod
// (there is nothing left to stop in it).
func (i *instance) endRun(r *run) {
	i.fwd.point("")
	r.logs.finish()
	i.log.EndOfStream()
	r.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	if err := i.r.c.DeletePod(ctx, i.r.ns, r.pod, 0); err != nil {
		i.logger.Warn("pod not deleted", "pod", r.pod, "err", err)
	}
}

// terminate deletes the pod with the grace period (the kubelet sends
// SIGTERM, then SIGKILL), or at once when Stop's caller gives up, and
// waits until the pod is gone.
func (i *instance) terminate(r *run) {
	i.log.Note(fmt.Sprintf("stopping instance %s (SIGTERM; SIGKILL after %s)", i.id, time.Duration(kube.GraceSeconds(i.grace))*time.Second))
	// New connections are refused; those open finish with the pod.
	i.fwd.point("")
	i.deletePod(r.pod, kube.GraceSeconds(i.grace))
	limit := time.NewTimer(time.Duration(kube.GraceSeconds(i.grace))*time.Second + goneWait)
	defer limit.Stop()
	var st exitStatus
	kill := i.KillRequested()
	ended := false
	for !ended {
		select {
		case st = <-r.end:
			ended = true
		case <-kill:
			i.deletePod(r.pod, 0)
			kill = nil
		case <-limit.C:
			i.logger.Warn("pod not gone after its grace period", "pod", r.pod)
			ended = true
		}
	}
	// The container ended; the kubelet removes the pod a moment later.
	select {
	case <-r.gone:
	case <-limit.C:
	}
	i.endRun(r)
	i.logger.Info("instance stopped", "exit", st.what)
}

func (i *instance) deletePod(name string, grace int64) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	if err := i.r.c.DeletePod(ctx, i.r.ns, name, grace); err != nil {
		i.logger.Warn("delete pod", "pod", name, "err", err)
	}
}

// remove deletes the Secret of the instance and closes its address.
func (i *instance) remove() {
	if i.fwd != nil {
		i.fwd.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	names := []string{i.name}
	if i.pull.Registry != "" {
		names = append(names, i.pullSecret())
	}
	for _, name := range names {
		if err := i.r.c.Delete(ctx, i.r.ns, "secrets", name); err != nil {
			i.log.Note(fmt.Sprintf("secret %s of instance %s could not be deleted: %v", name, i.id, err))
			i.logger.Warn("object left behind", "kind", "secrets", "name", name, "err", err)
		}
	}
}

// finish closes the log and Exited. It runs once, when the supervisor
// ends or when Start fails.
func (i *instance) finish(final runtime.State) {
	if final == runtime.StateStopped {
		i.log.Note(fmt.Sprintf("instance %s stopped", i.id))
	}
	if err := i.log.Close(); err != nil {
		i.logger.Warn("instance log", "err", err)
	}
	i.Ended(final)
	i.r.instances.Remove(i)
}

// readiness is the pod's readiness probe from the service's health
// check: what puts the pod behind the environment's Service (Velocity's
// proxy checks the instance itself).
func readiness(h runtime.Health, port int) *kube.Probe {
	if h.HTTP == "" && !h.TCP {
		return nil
	}
	p := &kube.Probe{
		PeriodSeconds:  int32(max(kube.GraceSeconds(h.Interval), 1)),
		TimeoutSeconds: int32(max(kube.GraceSeconds(h.Timeout), 1)),
	}
	if h.TCP {
		p.TCPSocket = &kube.TCPSocketAction{Port: port}
	} else {
		p.HTTPGet = &kube.HTTPGetAction{Path: h.HTTP, Port: port}
	}
	return p
}
