package kube

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/lines"
)

// This file runs Step.Sidecars as native sidecars of the step's pod:
// init containers with restartPolicy Always, which the kubelet starts
// one after the other, each once its startupProbe (the sidecar's
// readiness) passed, before the step's container; and stops after it.
// The containers of a pod share its network, so a sidecar listens on
// the step's 127.0.0.1, and a host alias makes its name resolve there.
//
// The kubelet never gives up on a startupProbe: it restarts the sidecar
// and probes again. The executor bounds the wait itself, from when the
// sidecar's container runs, and fails the step with the sidecar's last
// lines; the probe's own threshold is set past that bound.

// Defaults of a sidecar's readiness (those of internal/sidecar).
const (
	defaultReadyTimeout  = 30 * time.Second
	defaultReadyInterval = 100 * time.Millisecond
	// probeTimeout bounds one readiness check, as internal/sidecar does.
	probeTimeout = 5
	// tailLines is how much of a failed sidecar's output an error quotes.
	tailLines = 20
)

// checkSidecars refuses sidecars a pod cannot run as asked.
func checkSidecars(step executor.Step) error {
	for _, sc := range step.Sidecars {
		switch {
		case !hostLabel(sc.Name):
			return fmt.Errorf("%s: sidecar %q: a pod resolves only names of at most 63 lowercase letters, digits and '-' (not '_'): %w", step.Name, sc.Name, executor.ErrUnsupported)
		case sc.Image == "":
			return fmt.Errorf("%s: sidecar %q has no image", step.Name, sc.Name)
		case sc.Ready == "" && (sc.Port <= 0 || sc.Port > 65535):
			return fmt.Errorf("%s: sidecar %q: no port to check its readiness on", step.Name, sc.Name)
		}
	}
	return nil
}

// hostLabel reports whether name is a DNS label: what a host alias and a
// container's name may be.
func hostLabel(name string) bool {
	if name == "" || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// sidecarContainer names the container of the i-th sidecar: "sidecar-"
// and its name when that fits in a container's name.
func sidecarContainer(i int, name string) string {
	if n := "sidecar-" + name; len(n) <= 63 {
		return n
	}
	return "sidecar-" + strconv.Itoa(i)
}

// sidecarEnvKey is the Secret's key of the j-th variable of the i-th
// sidecar; the step's are kube.EnvKey's.
func sidecarEnvKey(i, j int) string { return "s" + strconv.Itoa(i) + "-" + strconv.Itoa(j) }

// sidecarContainers are the pod's init containers for step's sidecars,
// their variables read from the Secret named secret.
func (w *Workspace) sidecarContainers(step executor.Step, secret string, mounts []kube.VolumeMount) []kube.Container {
	var cs []kube.Container
	for i, sc := range step.Sidecars {
		var env []kube.EnvVar
		for j, kv := range sc.Env {
			n, _, _ := strings.Cut(kv, "=")
			env = append(env, kube.EnvVar{Name: n, ValueFrom: &kube.EnvVarSource{
				SecretKeyRef: &kube.KeyRef{Name: secret, Key: sidecarEnvKey(i, j)},
			}})
		}
		timeout, interval := readiness(sc)
		period := max(1, int32((interval+time.Second-1)/time.Second))
		probe := &kube.Probe{
			PeriodSeconds:  period,
			TimeoutSeconds: probeTimeout,
			// Past the executor's own bound (see above): the kubelet
			// would restart the sidecar and the step's error would say
			// it exited.
			FailureThreshold: int32(timeout/(time.Duration(period)*time.Second)) + 3,
		}
		if sc.Ready != "" {
			probe.Exec = &kube.ExecAction{Command: []string{"/bin/sh", "-c", sc.Ready}}
		} else {
			probe.TCPSocket = &kube.TCPSocketAction{Port: sc.Port}
		}
		c := kube.Container{
			Name:            sidecarContainer(i, sc.Name),
			Image:           sc.Image,
			ImagePullPolicy: w.e.opt.PullPolicy,
			Env:             env,
			VolumeMounts:    mounts,
			RestartPolicy:   "Always",
			StartupProbe:    probe,
		}
		if sc.Script != "" {
			cmd := sidecarCommand(sc.Script)
			c.Command, c.Args = cmd[:1], cmd[1:]
		}
		cs = append(cs, c)
	}
	return cs
}

// readiness is a sidecar's readiness timeout and interval, defaults
// applied.
func readiness(sc executor.Sidecar) (timeout, interval time.Duration) {
	timeout, interval = sc.ReadyTimeout, sc.ReadyInterval
	if timeout <= 0 {
		timeout = defaultReadyTimeout
	}
	if interval <= 0 {
		interval = defaultReadyInterval
	}
	return timeout, interval
}

// hostAliases make the sidecars' names resolve to the pod's loopback.
func hostAliases(step executor.Step) []kube.HostAlias {
	if len(step.Sidecars) == 0 {
		return nil
	}
	names := make([]string, len(step.Sidecars))
	for i, sc := range step.Sidecars {
		names[i] = sc.Name
	}
	return []kube.HostAlias{{IP: "127.0.0.1", Hostnames: names}}
}

// sidecars follows the sidecars of a running step's pod: their output
// to the step's, and their readiness until the step's container starts.
type sidecars struct {
	c       *kube.Client
	ns, pod string
	specs   []executor.Sidecar
	state   []sidecarState
	// ready is set once the step's container started: every sidecar
	// was ready then, and what they do afterwards is no failure.
	ready bool
}

type sidecarState struct {
	container string
	out       *lineWriter
	logs      *follower
	// running is when the container was first seen running; the
	// readiness bound counts from it.
	running time.Time
	// config is set once it waited for its configuration.
	config bool
}

func newSidecars(c *kube.Client, ns, pod string, specs []executor.Sidecar, out *syncWriter) *sidecars {
	s := &sidecars{c: c, ns: ns, pod: pod, specs: specs, state: make([]sidecarState, len(specs))}
	for i, sc := range specs {
		name := sidecarContainer(i, sc.Name)
		lw := newLineWriter("[sidecar "+sc.Name+"] ", out)
		s.state[i] = sidecarState{container: name, out: lw, logs: &follower{c: c, ns: ns, pod: pod, container: name, out: lw}}
	}
	return s
}

// update reads the sidecars' statuses in p: it starts following the
// output of those that run, and fails the step for one that cannot start
// or exited before it was ready. configWait says a sidecar waits for its
// configuration (the Secret), which may pass.
func (s *sidecars) update(ctx context.Context, p *kube.Pod, step string) (configWait string, err error) {
	for i := range s.specs {
		st := &s.state[i]
		var cs *kube.ContainerStatus
		for j := range p.Status.InitContainerStatuses {
			if p.Status.InitContainerStatuses[j].Name == st.container {
				cs = &p.Status.InitContainerStatuses[j]
			}
		}
		if cs == nil {
			continue
		}
		if cs.State.Running != nil || cs.State.Terminated != nil || cs.RestartCount > 0 {
			if st.running.IsZero() {
				st.running = time.Now()
			}
			st.logs.start(ctx)
		}
		if s.ready {
			continue
		}
		started := cs.Started != nil && *cs.Started
		w := cs.State.Waiting
		switch {
		case w != nil && waitingFailures[w.Reason]:
			return "", fmt.Errorf("%s: sidecar %q cannot start in image %s: %s: %s", step, s.specs[i].Name, s.specs[i].Image, w.Reason, w.Message)
		case w != nil && w.Reason == "CreateContainerConfigError":
			st.config = true
			configWait = fmt.Sprintf("sidecar %q: %s", s.specs[i].Name, w.Message)
		case !started && (cs.State.Terminated != nil || cs.RestartCount > 0):
			end := cs.State.Terminated
			if end == nil {
				end = cs.LastState.Terminated
			}
			why := "exited before becoming ready"
			if end != nil {
				why = fmt.Sprintf("exited with code %d before becoming ready", end.ExitCode)
			}
			return "", s.fail(ctx, i, step, why, cs.RestartCount > 0)
		}
	}
	return configWait, nil
}

// configPassed reports whether every sidecar that waited for its
// configuration has run since.
func (s *sidecars) configPassed() bool {
	for _, st := range s.state {
		if st.config && st.running.IsZero() {
			return false
		}
	}
	return true
}

// deadline is when the first sidecar not yet ready runs out of time;
// ok is false when none is waited for.
func (s *sidecars) deadline() (at time.Time, i int, ok bool) {
	if s == nil || s.ready {
		return time.Time{}, 0, false
	}
	for j, st := range s.state {
		if st.running.IsZero() {
			continue
		}
		timeout, _ := readiness(s.specs[j])
		if d := st.running.Add(timeout); !ok || d.Before(at) {
			at, i, ok = d, j, true
		}
	}
	return at, i, ok
}

// timedOut fails the step for the i-th sidecar, not ready in time.
func (s *sidecars) timedOut(ctx context.Context, i int, step string) error {
	sc := s.specs[i]
	timeout, _ := readiness(sc)
	check := fmt.Sprintf("port %d accepted no connection", sc.Port)
	if sc.Ready != "" {
		check = "its ready script did not pass"
	}
	return s.fail(ctx, i, step, fmt.Sprintf("not ready after %v: %s", timeout, check), false)
}

// fail is the step's error for a sidecar that did not become ready, with
// its last lines (those of its previous run when it was restarted).
func (s *sidecars) fail(ctx context.Context, i int, step, why string, previous bool) error {
	st := s.state[i]
	read := s.c.LogsSoFar
	if previous {
		read = s.c.PreviousLogs
	}
	var lines []string
	// A hung API server must not hang the step's failure.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if body, err := read(ctx, s.ns, s.pod, st.container); err == nil {
		lines = lastLines(body, tailLines)
		body.Close()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: sidecar %q: %s", step, s.specs[i].Name, why)
	if len(lines) == 0 {
		b.WriteString("; it printed nothing")
		return fmt.Errorf("%s", b.String())
	}
	b.WriteString("; its last output:")
	for _, l := range lines {
		b.WriteString("\n    ")
		b.WriteString(l)
	}
	return fmt.Errorf("%s", b.String())
}

// lastLines reads r to its end and returns its last n lines.
func lastLines(r io.Reader, n int) []string {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// finish copies the rest of every sidecar's output, at once for all.
func (s *sidecars) finish(ctx context.Context) {
	if s == nil {
		return
	}
	var wg sync.WaitGroup
	for i := range s.state {
		wg.Go(func() {
			s.state[i].logs.finish(ctx)
			s.state[i].out.flush()
		})
	}
	wg.Wait()
}

// stop ends the sidecars' log streams.
func (s *sidecars) stop() {
	if s == nil {
		return
	}
	for _, st := range s.state {
		st.logs.stop()
	}
}

// syncWriter serialises the writes of the step's and the sidecars' logs
// to Step.Output, which takes one writer at a time.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// lineWriter prefixes every line of a sidecar's output and writes whole
// lines only, so that they do not mix with the step's.
type lineWriter struct {
	prefix []byte
	out    io.Writer
	mu     sync.Mutex
	split  lines.Splitter
}

func newLineWriter(prefix string, out io.Writer) *lineWriter {
	l := &lineWriter{prefix: []byte(prefix), out: out}
	l.split.Emit = l.emit
	return l
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.split.Write(p)
}

func (l *lineWriter) emit(line []byte) {
	buf := make([]byte, 0, len(l.prefix)+len(line)+1)
	buf = append(append(append(buf, l.prefix...), line...), '\n')
	// The log is for people: a failing write must not fail the step.
	l.out.Write(buf)
}

// flush writes a last line without newline.
func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.split.Flush()
}
