package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/kube"
)

// DefaultKillGrace applies when a step sets no grace period.
const DefaultKillGrace = 10 * time.Second

// logSettle is how long the log stream may take to end on its own once
// the container ended. The kubelet checks whether a followed container
// still runs only every few seconds, so a stream that is quiet at the
// end is cut and the rest read from the log without following.
const logSettle = 150 * time.Millisecond

// containerName is the step's container in its pod.
const containerName = "step"

// waitingFailures are the reasons a container waits that will not pass
// on their own: the step fails with an error.
var waitingFailures = map[string]bool{
	"ErrImageNeverPull":    true,
	"ErrImagePull":         true,
	"ImagePullBackOff":     true,
	"InvalidImageName":     true,
	"CreateContainerError": true,
	"RunContainerError":    true,
}

// configErrorWait is how long a container may wait with
// CreateContainerConfigError before the step fails: the kubelet reports it
// also while its cache of the step's Secret is still filling, which
// passes, and retries on its own.
const configErrorWait = 20 * time.Second

// errNotStarted is wrapped by runPod's error when the runtime could not
// start the container (terminated with reason StartError): the step's
// program never ran, so it is safe to run it again in a new pod. A busy
// node does that now and then (containerd timing out on a sandbox).
var errNotStarted = errors.New("the container did not start")

// startTries bounds how many pods a step is tried in when its container
// does not start.
const startTries = 3

// Run implements executor.Workspace: one pod per step, deleted when the
// step ends.
func (w *Workspace) Run(ctx context.Context, step executor.Step) (executor.Result, error) {
	if err := w.steps.Begin(step.Name); err != nil {
		return executor.Result{}, err
	}
	defer w.steps.End()
	if err := w.check(step); err != nil {
		return executor.Result{}, err
	}
	if err := checkSidecars(step); err != nil {
		return executor.Result{}, err
	}
	uid, gid, err := w.e.user(step)
	if err != nil {
		return executor.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return executor.Result{ExitCode: -1, Stopped: true}, nil
	}
	if err := executor.PlaceFilesIn(step); err != nil {
		return executor.Result{}, err
	}
	res, err := w.runPod(ctx, step, uid, gid)
	// The step never ran: a new pod may start where this one could not.
	for try := 1; errors.Is(err, errNotStarted) && try < startTries && ctx.Err() == nil; try++ {
		w.e.opt.Logger.Warn("a step's container did not start; trying a new pod", "step", step.Name, "err", err)
		res, err = w.runPod(ctx, step, uid, gid)
	}
	if err != nil {
		return res, err
	}
	if err := executor.CollectFilesOut(step, &res); err != nil {
		return res, err
	}
	return res, nil
}

// pod is the step's pod; its environment is in the Secret named secret.
func (w *Workspace) pod(step executor.Step, name, secret string, uid, gid *int64) *kube.Pod {
	image := step.Image
	if image == "" {
		image = w.e.opt.DefaultImage
	}
	env := kube.EnvFrom(step.Env, secret)
	names := make([]string, len(env))
	for i, v := range env {
		names[i] = v.Name
	}
	var volumes []kube.Volume
	var mounts []kube.VolumeMount
	for i, dir := range []string{w.run.Dir, w.run.Scratch} {
		if dir == "" {
			continue
		}
		v := fmt.Sprint("workspace-", i)
		volumes = append(volumes, kube.Volume{Name: v, HostPath: &kube.HostPath{Path: dir, Type: "Directory"}})
		mounts = append(mounts, kube.VolumeMount{Name: v, MountPath: dir})
	}
	var resources kube.Resources
	if !step.Limits.IsZero() {
		resources.Limits = map[string]string{}
		if step.Limits.Memory > 0 {
			resources.Limits["memory"] = strconv.FormatInt(step.Limits.Memory, 10)
		}
		if step.Limits.CPU > 0 {
			resources.Limits["cpu"] = kube.Quantity(step.Limits.CPU)
		}
	}
	cmd := command(step.Script, step.Command, names)
	off := false
	grace := graceSeconds(step.KillGrace)
	// The step's user is its container's: the sidecars run as their
	// images' (a database's image needs its own).
	return &kube.Pod{
		Metadata: kube.ObjectMeta{Name: name, Labels: w.labels(), Annotations: w.annotations()},
		Spec: kube.PodSpec{
			RestartPolicy: "Never",
			// A step gets no credentials of the cluster and no
			// variables of its Services: only Step.Env.
			AutomountServiceAccountToken:  &off,
			EnableServiceLinks:            &off,
			TerminationGracePeriodSeconds: &grace,
			NodeName:                      w.e.opt.Node,
			Volumes:                       volumes,
			InitContainers:                w.sidecarContainers(step, secret, mounts),
			HostAliases:                   hostAliases(step),
			Containers: []kube.Container{{
				Name:            containerName,
				Image:           image,
				ImagePullPolicy: w.e.opt.PullPolicy,
				Command:         cmd[:1],
				Args:            cmd[1:],
				WorkingDir:      step.Dir,
				Env:             env,
				VolumeMounts:    mounts,
				Resources:       resources,
				SecurityContext: &kube.SecurityContext{RunAsUser: uid, RunAsGroup: gid},
			}},
		},
	}
}

// graceSeconds rounds a grace period up to whole seconds, the unit of the
// API (0 would kill at once).
func graceSeconds(d time.Duration) int64 {
	if d <= 0 {
		d = DefaultKillGrace
	}
	return kube.GraceSeconds(d)
}

// runPod runs the step's pod to its end and deletes it.
func (w *Workspace) runPod(ctx context.Context, step executor.Step, uid, gid *int64) (executor.Result, error) {
	c, ns := w.e.c, w.e.opt.Namespace
	// Not cancelled with the step: a create that half happened would
	// leave an object nobody deletes.
	bg := context.WithoutCancel(ctx)
	name := fmt.Sprintf("%s-%d", w.name, w.seq.Add(1))
	secret := ""
	data := kube.EnvData(step.Env)
	for i, sc := range step.Sidecars {
		for j, kv := range sc.Env {
			_, v, _ := strings.Cut(kv, "=")
			data[sidecarEnvKey(i, j)] = []byte(v)
		}
	}
	if len(data) > 0 {
		secret = name
		if err := c.CreateSecret(bg, ns, &kube.Secret{
			Metadata: kube.ObjectMeta{Name: secret, Labels: w.labels(), Annotations: w.annotations()},
			Type:     "Opaque",
			Data:     data,
		}); err != nil {
			return executor.Result{}, fmt.Errorf("%s: create the secret of its environment: %w", step.Name, err)
		}
		defer func() {
			if err := c.DeleteSecret(bg, ns, secret); err != nil {
				w.e.opt.Logger.Warn("secret not deleted", "step", step.Name, "secret", secret, "err", err)
			}
		}()
	}
	pod := w.pod(step, name, secret, uid, gid)
	pullSecret, err := w.pullImages(ctx, pod)
	if err != nil {
		return executor.Result{}, fmt.Errorf("%s: %w", step.Name, err)
	}
	if pullSecret != "" {
		defer func() {
			if err := c.DeleteSecret(bg, ns, pullSecret); err != nil {
				w.e.opt.Logger.Warn("secret not deleted", "step", step.Name, "secret", pullSecret, "err", err)
			}
		}()
	}
	begun := time.Now()
	created, err := c.CreatePod(bg, ns, pod)
	if err != nil {
		return executor.Result{}, fmt.Errorf("%s: create its pod: %w", step.Name, err)
	}
	madeAt := time.Now()
	var started time.Time
	defer func() {
		ended := time.Now()
		if started.IsZero() {
			started = ended
		}
		if err := c.DeletePod(bg, ns, name, 0); err != nil {
			w.e.opt.Logger.Warn("pod not deleted", "step", step.Name, "pod", name, "err", err)
		}
		// Where a step's time goes besides its own work: see
		// docs/kubernetes.md.
		w.e.opt.Logger.Debug("step pod", "step", step.Name, "pod", name,
			"create", madeAt.Sub(begun), "start", started.Sub(madeAt),
			"run", ended.Sub(started), "delete", time.Since(ended))
	}()

	out := step.Output
	if out == nil {
		out = io.Discard
	}
	var scs *sidecars
	if len(step.Sidecars) > 0 {
		sw := &syncWriter{w: out}
		out = sw
		scs = newSidecars(c, ns, name, step.Sidecars, sw)
		defer scs.stop()
	}
	logs := &follower{c: c, ns: ns, pod: name, container: containerName, out: out}
	defer logs.stop()

	watchCtx, stopWatch := context.WithCancel(bg)
	defer stopWatch()
	events := make(chan kube.Event, 16)
	watchErr := make(chan error, 1)
	go w.watch(watchCtx, name, created.Metadata.ResourceVersion, events, watchErr)

	res := executor.Result{Started: time.Now()}
	grace := step.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	var stoppedAt time.Time
	var configErr <-chan time.Time
	var configMsg string
	// configBySidecar: configErr runs for a sidecar's container, which
	// the step's running does not clear.
	configBySidecar := false
	done := ctx.Done()
	for {
		var notReady <-chan time.Time
		at, late, waiting := scs.deadline()
		if waiting {
			notReady = time.After(time.Until(at))
		}
		select {
		case <-notReady:
			return executor.Result{}, scs.timedOut(bg, late, step.Name)
		case <-configErr:
			return executor.Result{}, fmt.Errorf("%s: its container cannot start: CreateContainerConfigError: %s", step.Name, configMsg)
		case err := <-watchErr:
			return executor.Result{}, fmt.Errorf("%s: %w", step.Name, err)
		case <-done:
			done = nil
			res.Stopped = true
			stoppedAt = time.Now()
			// The kubelet sends SIGTERM, and SIGKILL after the grace.
			if err := c.DeletePod(bg, ns, name, graceSeconds(grace)); err != nil {
				w.e.opt.Logger.Warn("cannot stop a pod", "step", step.Name, "pod", name, "err", err)
			}
		case ev := <-events:
			if ev.Type == "DELETED" {
				// Gone before its end was seen: only a stopped step's
				// pod is deleted while it runs.
				res.Finished = time.Now()
				res.ExitCode = -1
				res.Signal = "killed"
				if !stoppedAt.IsZero() && res.Finished.Sub(stoppedAt) < grace {
					res.Signal = "terminated"
				}
				logs.finish(bg)
				scs.finish(bg)
				return res, nil
			}
			st := containerState(&ev.Object)
			sidecarConfig := ""
			if scs != nil {
				if st.Running != nil || st.Terminated != nil {
					scs.ready = true
				}
				var err error
				if sidecarConfig, err = scs.update(bg, &ev.Object, step.Name); err != nil {
					return executor.Result{}, err
				}
				if configBySidecar && scs.configPassed() {
					configErr, configBySidecar = nil, false
				}
			}
			switch {
			case st.Terminated != nil && st.Terminated.Reason == "StartError":
				return executor.Result{}, fmt.Errorf("%s: %w: %s", step.Name, errNotStarted, st.Terminated.Message)
			case st.Terminated != nil:
				res.Finished = time.Now()
				if started.IsZero() {
					started = res.Finished
				}
				res.ExitCode = st.Terminated.ExitCode
				switch {
				case st.Terminated.Reason == "OOMKilled":
					res.Signal = "killed (out of memory)"
				case res.Stopped && res.ExitCode > 128:
					res.Signal = syscall.Signal(res.ExitCode - 128).String()
				}
				logs.start(bg)
				logs.finish(bg)
				scs.finish(bg)
				return res, nil
			case st.Running != nil:
				configErr = nil
				if started.IsZero() {
					started = time.Now()
				}
				logs.start(bg)
			case st.Waiting != nil && st.Waiting.Reason == "CreateContainerConfigError" || sidecarConfig != "":
				configMsg = sidecarConfig
				if st.Waiting != nil && st.Waiting.Reason == "CreateContainerConfigError" {
					configMsg = st.Waiting.Message
				}
				if configErr == nil {
					configBySidecar = sidecarConfig != ""
					t := time.NewTimer(configErrorWait)
					defer t.Stop()
					configErr = t.C
				}
			case st.Waiting != nil && kube.PullMayRecover(st.Waiting.Reason, len(ev.Object.Spec.ImagePullSecrets) > 0, madeAt):
				// The kubelet pulls again (see kube.PullRetryWindow).
			case st.Waiting != nil && waitingFailures[st.Waiting.Reason]:
				return executor.Result{}, fmt.Errorf("%s: its container cannot start in image %s: %s: %s", step.Name, ev.Object.Spec.Containers[0].Image, st.Waiting.Reason, st.Waiting.Message)
			case ev.Object.Status.Phase == "Failed":
				return executor.Result{}, fmt.Errorf("%s: its pod failed: %s: %s", step.Name, ev.Object.Status.Reason, ev.Object.Status.Message)
			}
		}
	}
}

// containerState is the step container's state in p (zero before the
// kubelet reported it).
func containerState(p *kube.Pod) kube.ContainerState {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == containerName {
			return cs.State
		}
	}
	return kube.ContainerState{}
}

// watch sends the pod's changes to events until ctx ends; a watch the
// server ends is started again from the pod as it is then.
func (w *Workspace) watch(ctx context.Context, name, rv string, events chan<- kube.Event, errc chan<- error) {
	c, ns := w.e.c, w.e.opt.Namespace
	for {
		err := c.WatchPod(ctx, ns, name, rv, func(ev kube.Event) bool {
			rv = ev.Object.Metadata.ResourceVersion
			select {
			case events <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		})
		if ctx.Err() != nil {
			return
		}
		// Ended by the server or the connection: read the pod again,
		// which also tells what happened in between.
		p, gerr := c.GetPod(ctx, ns, name)
		if ctx.Err() != nil {
			return
		}
		var ev kube.Event
		switch {
		case kube.IsNotFound(gerr):
			ev = kube.Event{Type: "DELETED"}
		case gerr != nil:
			errc <- fmt.Errorf("watch its pod: %w (then %w)", err, gerr)
			return
		default:
			ev = kube.Event{Type: "MODIFIED", Object: *p}
			rv = p.Metadata.ResourceVersion
		}
		select {
		case events <- ev:
		case <-ctx.Done():
			return
		}
		if ev.Type == "DELETED" {
			return
		}
	}
}

// follower copies a container's log to out: followed while it runs, and
// the rest read without following once it ended.
type follower struct {
	c                  *kube.Client
	ns, pod, container string
	out                io.Writer

	once    sync.Once
	cancel  context.CancelFunc
	done    chan struct{}
	written int64
}

// start starts following once the container runs (or ended).
func (f *follower) start(ctx context.Context) {
	f.once.Do(func() {
		ctx, f.cancel = context.WithCancel(ctx)
		f.done = make(chan struct{})
		go func() {
			defer close(f.done)
			body, err := f.c.Logs(ctx, f.ns, f.pod, f.container)
			if err != nil {
				return // finish reads the whole log
			}
			defer body.Close()
			f.written, _ = io.Copy(f.out, body)
		}()
	})
}

// finish waits briefly for the followed stream to end, cutting it when it
// does not, then copies what it missed from the whole log.
func (f *follower) finish(ctx context.Context) {
	if f.done == nil {
		return
	}
	select {
	case <-f.done:
	case <-time.After(logSettle):
		f.cancel()
		<-f.done
	}
	// Whatever the stream did, the whole log is read once more and what
	// it did not deliver is copied: a follow opened as the container
	// started can end at once with nothing on a busy node (the log file
	// not there yet), and the output would be lost.
	body, err := f.c.LogsSoFar(ctx, f.ns, f.pod, f.container)
	if err != nil {
		return
	}
	defer body.Close()
	if _, err := io.CopyN(io.Discard, body, f.written); err != nil {
		return
	}
	io.Copy(f.out, body)
}

func (f *follower) stop() {
	if f.cancel != nil {
		f.cancel()
		<-f.done
	}
}

// pullImages points the pod's containers (the sidecars too) at images the cluster can pull
// (Options.Images) and creates the pull secret they need, whose name it
// returns ("" for none).
func (w *Workspace) pullImages(ctx context.Context, pod *kube.Pod) (string, error) {
	if w.e.opt.Images == nil {
		return "", nil
	}
	var secret *kube.Secret
	ctrs := make([]*kube.Container, 0, len(pod.Spec.Containers)+len(pod.Spec.InitContainers))
	for k := range pod.Spec.Containers {
		ctrs = append(ctrs, &pod.Spec.Containers[k])
	}
	for k := range pod.Spec.InitContainers {
		ctrs = append(ctrs, &pod.Spec.InitContainers[k]) // the sidecars
	}
	for _, ctr := range ctrs {
		pull, err := w.e.opt.Images.Pullable(ctx, ctr.Image)
		if err != nil {
			return "", err
		}
		ctr.Image = pull.Ref
		if s := pull.PullSecret(kube.ObjectMeta{Name: pod.Metadata.Name + "-pull", Labels: w.labels(), Annotations: w.annotations()}); s != nil {
			// Velocity's registry is the only one with a credential, the
			// same for every container.
			secret = s
		}
	}
	if secret == nil {
		return "", nil
	}
	if err := w.e.c.CreateSecret(context.WithoutCancel(ctx), w.e.opt.Namespace, secret); err != nil {
		return "", fmt.Errorf("create the pull secret of its image: %w", err)
	}
	pod.Spec.ImagePullSecrets = []kube.LocalObjectRef{{Name: secret.Metadata.Name}}
	return secret.Metadata.Name, nil
}
