package pods

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/executor/owner"
	"github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/runtime"
)

// Labels on every object (Pod, Secret) this runtime creates.
const (
	// LabelInstance holds the instance's name as Kubernetes spells it.
	LabelInstance = "velocity.instance"
	// LabelRuntime names the Runtime that made the object: Close deletes
	// whatever carries its value.
	LabelRuntime = "velocity.runtime"
	// LabelManaged marks every object of the runtime, whichever runtime
	// made it: kubectl get pods,secrets -l velocity.service-instance.
	LabelManaged = "velocity.service-instance"
	// LabelService and LabelEnvironment name an instance's service and
	// environment on its pods: the environment's Service selects them.
	LabelService     = "velocity.service"
	LabelEnvironment = "velocity.environment"
)

// DefaultPort is $PORT inside a pod when the Spec sets no Port, as for
// the container runtime.
const DefaultPort = 8080

// Config configures a Kubernetes runtime.
type Config struct {
	// Client talks to the cluster. Required.
	Client *kube.Client
	// Namespace holds the instances' objects. Required.
	Namespace string
	// PullPolicy is the pods' imagePullPolicy ("Never" for images loaded
	// into the node by hand); empty leaves Kubernetes' default.
	PullPolicy string
	// Images says how a pod gets each instance's image (an image Velocity
	// built reaches the cluster through its registry); nil names every
	// image as the Spec does.
	Images Images
	// Logger receives Velocity's account of starts, crashes and stops.
	Logger *slog.Logger
}

// Images makes an image pullable by the cluster's nodes
// (clusterimages.Publisher).
type Images interface {
	Pullable(ctx context.Context, image string) (kube.Pull, error)
}

// Runtime runs instances as pods, each behind a loopback address of its
// own that Velocity relays to the pod running now. Create it with New and
// Close it when done.
type Runtime struct {
	c      *kube.Client
	ns     string
	pull   string
	images Images
	log    *slog.Logger
	// self is the value of LabelRuntime on this runtime's objects.
	self string
	// owner (owner.Self) and host mark the objects as this process's, so
	// that a later Velocity deletes them if it is killed.
	owner, host string

	instances runtime.Instances[*instance]
}

var _ runtime.Runtime = (*Runtime)(nil)

// New makes a runtime.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Client == nil || cfg.Namespace == "" {
		return nil, errors.New("kubernetes runtime: a client and a namespace are required")
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("kubernetes runtime: %w", err)
	}
	self, err := owner.Self()
	if err != nil {
		return nil, fmt.Errorf("kubernetes runtime: %w", err)
	}
	r := &Runtime{c: cfg.Client, ns: cfg.Namespace, pull: cfg.PullPolicy, images: cfg.Images, log: cfg.Logger,
		self: hex.EncodeToString(b[:]), owner: self, host: kube.HostHash()}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	// The instances of a Velocity killed with SIGKILL are nobody's: what
	// it ran is started again by the releases' recovery, not adopted.
	kube.DeleteOrphans(ctx, r.c, r.ns, LabelManaged, []string{"pods", "secrets"}, r.log)
	return r, ctx.Err()
}

// Limits says that memory and CPU limits are enforced: the kubelet does
// it, as resources.limits of each pod.
func (r *Runtime) Limits() (bool, string) {
	return true, "memory and CPU limits are enforced by Kubernetes (resources.limits)"
}

// Start implements runtime.Runtime. It returns once the instance's first
// pod runs (or has already ended: the supervisor restarts it).
func (r *Runtime) Start(ctx context.Context, s runtime.Spec) (runtime.Instance, error) {
	name := s.Name()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := validate(s); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	id, err := runtime.NewInstanceID(s)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	logger := r.log.With("instance", id, "service", s.Service, "environment", s.Environment, "release", s.Release, "image", s.Image)
	ilog, err := runtime.OpenLog(s.LogDir, id, logger)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	i := newInstance(r, s, id, ilog, logger)
	if !r.instances.Add(i) {
		i.finish(runtime.StateFailed)
		return nil, fmt.Errorf("start %s: runtime is closed", name)
	}
	fail := func(err error) (runtime.Instance, error) {
		i.log.Note(fmt.Sprintf("instance %s could not be started: %v", id, err))
		i.remove()
		i.finish(runtime.StateFailed)
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := i.create(ctx); err != nil {
		return fail(err)
	}
	if err := r.ensureService(ctx, s, i.port); err != nil {
		return fail(err)
	}
	// A pod that cannot be scheduled or configured waits without end;
	// Start does not.
	sctx, cancel := context.WithTimeout(ctx, startWait)
	run, err := i.run(sctx)
	cancel()
	if err != nil {
		return fail(err)
	}
	i.Running(false)
	logger.Info("instance started", "addr", i.addr, "pod", run.pod)
	go i.supervise(run)
	return i, nil
}

// Close stops every instance still running (as Stop(ctx) would), then
// deletes whatever object of this runtime is still there. Start fails
// afterwards.
func (r *Runtime) Close(ctx context.Context) error {
	errs := []error{r.instances.Close(ctx)}
	sel := LabelRuntime + "=" + r.self
	for _, res := range []string{"pods", "secrets"} {
		objs, err := r.c.List(ctx, r.ns, res, sel)
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s left: %w", res, err))
			continue
		}
		for _, o := range objs {
			if err := r.c.Delete(ctx, r.ns, res, o.Name); err != nil {
				errs = append(errs, fmt.Errorf("delete %s %s: %w", res, o.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func validate(s runtime.Spec) error {
	switch {
	case s.Image == "":
		return errors.New("no image: the Kubernetes runtime runs images")
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("port %d out of range", s.Port)
	case s.Memory < 0:
		return fmt.Errorf("negative memory limit %d", s.Memory)
	case s.CPU < 0:
		return fmt.Errorf("negative CPU limit %g", s.CPU)
	}
	return nil
}

// objectName turns an instance ID into a name every kind of object
// accepts (a DNS label: lower case letters, digits and dashes, starting
// with a letter), short enough for a pod's suffix; the ID's random tail
// is kept, so names stay unique.
func objectName(id string) string {
	n := dnsChars(id)
	const max = 50
	if len(n) > max-2 {
		n = n[len(n)-(max-2):]
	}
	return "v-" + strings.Trim(n, "-")
}

// dnsChars is s in the characters of a DNS label: lower-case letters,
// digits, and '-' for anything else.
func dnsChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// ensureService makes sure the ClusterIP Service of s's service in its
// environment is there, named SERVICE-ENVIRONMENT, selecting the pods of
// every release of the two that pass their readiness probe, so that
// workloads in the cluster reach the service by name as the proxy's
// clients reach it through the proxy (without the proxy's strategies: a
// canary gets its share of the pods, not its weight). It outlives this
// runtime, so that its name and address stay across restarts of
// Velocity; a port that changed is updated, one deleted from outside is
// made again. A Service of that name that another service's pods use
// (two names spelt alike) is left alone.
func (r *Runtime) ensureService(ctx context.Context, s runtime.Spec, port int) error {
	ctx = context.WithoutCancel(ctx)
	name := serviceName(s.Service, s.Environment)
	selector := map[string]string{LabelService: labelValue(s.Service), LabelEnvironment: labelValue(s.Environment)}
	ports := []kube.ServicePort{{Name: "http", Port: port, TargetPort: port}}
	svc, err := r.c.GetService(ctx, r.ns, name)
	switch {
	case kube.IsNotFound(err):
		err = r.c.CreateService(ctx, r.ns, &kube.Service{
			Metadata: kube.ObjectMeta{Name: name, Labels: map[string]string{LabelManaged: "1"},
				Annotations: map[string]string{"velocity.service": s.Service, "velocity.environment": s.Environment}},
			Spec: kube.ServiceSpec{Selector: selector, Ports: ports},
		})
		if err != nil && !kube.IsConflict(err) {
			return fmt.Errorf("create Service %s: %w", name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read Service %s: %w", name, err)
	case !maps.Equal(svc.Spec.Selector, selector):
		r.log.Warn("a Service of the same name selects other pods; this service gets none", "service", name, "selector", svc.Spec.Selector)
		return nil
	case len(svc.Spec.Ports) == 1 && svc.Spec.Ports[0] == ports[0]:
		return nil
	}
	svc.Spec.Ports = ports
	if err := r.c.UpdateService(ctx, r.ns, svc); err != nil && !kube.IsConflict(err) {
		return fmt.Errorf("update the port of Service %s: %w", name, err)
	}
	return nil
}

// serviceName is the Service of a service in an environment, as a DNS
// label (lower-case letters, digits and dashes, a letter first, at most
// 63 characters).
func serviceName(service, env string) string {
	n := strings.Trim(dnsChars(service+"-"+env), "-")
	if n == "" || n[0] < 'a' || n[0] > 'z' {
		n = "v-" + n
	}
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	return n
}

// labelValue is s as a label's value: at most 63 letters, digits, '-',
// '_' and '.', beginning and ending with a letter or digit.
func labelValue(s string) string {
	v := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, s)
	if len(v) > 63 {
		v = v[:63]
	}
	return strings.Trim(v, "-_.")
}
