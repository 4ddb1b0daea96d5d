// Package deploy puts releases of services into environments: it builds
// the release directory from an action's outputs, starts instances on the
// runtime, gates them on health through the proxy and shifts traffic by the
// service's strategy (rolling, blue-green, canary), stopping the new
// instances and keeping the old release serving when anything goes wrong.
package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/proxy"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/spec"
)

// Deployer deploys and keeps what it deployed. Its methods are safe for
// concurrent use; deploys of the same service and environment are
// serialised.
type Deployer struct {
	Runtime runtime.Runtime
	Proxy   *proxy.Proxy
	Blobs   *artifact.Blobs
	// Dir holds release directories: ENV/SERVICE/RELEASE.
	Dir string
	// ProxyURL is the proxy's base address ("http://127.0.0.1:8080"), for
	// the URLs handed to acceptance tests.
	ProxyURL string
	Logger   *slog.Logger

	// mu guards live and, in every deployment, current, warm and the
	// instance lists of releases that are current: Close, URLs and
	// Instances read them while a deploy runs.
	mu   sync.Mutex
	live map[string]*deployment // by "env/service"
	// owners are the hosts routed, each to the "env/service" that owns
	// it: the proxy routes a host to one service only.
	owners map[string]string
}

// deployment is what serves one service in one environment.
type deployment struct {
	mu      sync.Mutex // serialises deploys
	route   *proxy.Route
	hosts   []string
	current *release
	// warm are old blue-green instances kept running (not serving) for
	// keep_warm, with the release they belong to: a rollback to that
	// release switches back to them, and Close must stop them too.
	warm map[*instance]*release
	// deploys counts the deploys running or waiting for mu; with no
	// current release and none of these, the deployment serves nothing
	// and another service may have its hosts.
	deploys int
}

// release is one version's running instances.
type release struct {
	id        string
	dir       string
	instances []*instance
	// keepWarm is how long the release stays warm once replaced: its
	// service's blue-green keep_warm when it was deployed, else 0.
	keepWarm time.Duration
	// fingerprint hashes what the release was deployed from (see
	// fingerprint): an equal one deploys nothing new.
	fingerprint string
}

// instance is one supervised process and its proxy target.
type instance struct {
	proc      runtime.Instance
	target    *proxy.Target
	stopCheck func()
	// answers are the last health check answers while it started.
	answers *answers
}

// Request is one deploy.
type Request struct {
	Service     spec.Service
	Environment spec.Environment
	// Release names the release (unique per deploy), e.g. "r12".
	Release string
	// Files are the outputs of the service's from action; none for a
	// service with an image.
	Files []artifact.File
	// ImageID pins the image of a service with one (Service.Image) to
	// what its reference named when the deploy began ("sha256:..."), so
	// that every instance, restart and rollback of the release runs the
	// same image even when the tag moves; empty runs Service.Image as
	// it is.
	ImageID string
	// Env is the instances' environment (secrets resolved); PORT is added.
	Env []string
	// Log receives progress lines.
	Log io.Writer
	// Ports bounds the instances' ports; zero means the runtime's range.
	Ports netport.Range
	// Redeploy deploys even when the release serving was deployed from
	// the same files and settings (see Unchanged). A rollback sets it: it
	// must put its own release into service, whatever serves.
	Redeploy bool
}

// Result is a successful deploy.
type Result struct {
	Release string
	URL     string
	Hosts   []string
	// Warm is set when the release was still kept warm (blue-green) and
	// traffic switched back to it without starting anything.
	Warm bool
	// Unchanged is set when the release serving was deployed from the
	// same files and settings: nothing was started, and Release names
	// that release, not the request's.
	Unchanged bool
}

// Deploy puts req's release into service. On failure the previous release,
// if any, still serves and the error shows the new instances' own last log
// lines and their last health check.
func (d *Deployer) Deploy(ctx context.Context, req Request) (Result, error) {
	svc, env := req.Service, req.Environment
	if req.Log == nil {
		req.Log = io.Discard
	}
	dep, err := d.deployment(env, svc)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		d.mu.Lock()
		dep.deploys--
		d.mu.Unlock()
	}()
	dep.mu.Lock()
	defer dep.mu.Unlock()
	if res, ok := d.Unchanged(req); ok {
		return res, nil
	}
	logf := func(format string, args ...any) { progress(req.Log, format, args...) }
	if res, ok := d.revive(ctx, dep, req, logf); ok {
		return res, nil
	}

	dir := filepath.Join(d.Dir, env.Name, svc.Name, req.Release)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Result{}, fmt.Errorf("release directory: %w", err)
	}
	if err := d.Blobs.Restore(dir, private(req.Files)); err != nil {
		return Result{}, fmt.Errorf("release %s from outputs: %w", req.Release, err)
	}
	next := &release{id: req.Release, dir: dir, fingerprint: fingerprint(req)}
	if svc.Strategy.Type == "blue-green" {
		next.keepWarm = svc.Strategy.KeepWarm
	}
	deadline := svc.Deadline
	if deadline <= 0 {
		deadline = 2 * time.Minute
	}
	began := time.Now()
	dctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()

	switch svc.Strategy.Type {
	case "blue-green":
		err = d.blueGreen(dctx, dep, next, req, logf)
	case "canary":
		err = d.canary(dctx, dep, next, req, logf)
	default:
		err = d.rolling(dctx, dep, next, req, logf)
	}
	if err != nil {
		waited := time.Since(began) // not counting the clean-up
		d.abort(dep, next, drainTimeout(svc))
		if errors.Is(dctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = deadlineError(req, next, waited, deadline, err)
		}
		return Result{}, fmt.Errorf("%w%s", err, next.report())
	}
	d.mu.Lock()
	dep.current = next
	d.mu.Unlock()
	d.stopWarm(dep, next.id)
	return d.serving(dep, req, logf), nil
}

// deadlineError is the headline of a deploy its deadline ended: how long
// it waited for what, against which settings, and what to change, by
// what the instance that was not healthy answered last.
func deadlineError(req Request, r *release, waited, deadline time.Duration, err error) error {
	svc := req.Service
	if cut, ok := errors.AsType[*canaryCut](err); ok {
		return fmt.Errorf("release %s: %w after %v; the canary's steps and pauses must fit in the deploy deadline: raise it (services.%s.deadline, now %v) or shorten the steps",
			req.Release, cut, waited.Round(100*time.Millisecond), svc.Name, deadline)
	}
	h := svc.Health
	var period string
	switch {
	case h.StartPeriod <= 0:
		period = "no health start_period"
	case waited < h.StartPeriod:
		period = fmt.Sprintf("health start_period %v, which it was still in", h.StartPeriod)
	default:
		period = fmt.Sprintf("health start_period %v", h.StartPeriod)
	}
	var checks []proxy.CheckResult
	if nh, ok := errors.AsType[*notHealthy](err); ok && nh.n >= 1 && nh.n <= len(r.instances) {
		if t := r.instances[nh.n-1].target; t != nil {
			checks = t.Checks()
		}
	}
	if waited < h.StartPeriod {
		checks = nil // still starting, whatever it answered
	}
	return fmt.Errorf("release %s not healthy after waiting %v (deploy deadline %v, %s): %w; %s",
		req.Release, waited.Round(100*time.Millisecond), deadline, period, err, advice(svc, deadline, checks))
}

// advice says what to change when a new instance was not healthy by the
// deadline, from its last health checks: more time helps only an
// instance that was still starting.
func advice(svc spec.Service, deadline time.Duration, checks []proxy.CheckResult) string {
	h := svc.Health
	raise := fmt.Sprintf("raise the deploy deadline (services.%s.deadline, now %v)", svc.Name, deadline)
	if len(checks) == 0 {
		return raise + " or give it a longer health start_period: it was still starting"
	}
	all := func(f func(proxy.CheckResult) bool) bool {
		for _, c := range checks {
			if !f(c) {
				return false
			}
		}
		return true
	}
	last := checks[len(checks)-1]
	switch {
	case all(func(c proxy.CheckResult) bool {
		return c.Err == "" && c.Path != "" && !c.OK() && c.Status == last.Status
	}):
		return fmt.Sprintf("the instance answers %d on %s: the health endpoint itself reports unhealthy; check the instance's log below (more time helps only if it was still warming up: then give it services.%s.health.start_period)",
			last.Status, last.Path, svc.Name)
	case all(func(c proxy.CheckResult) bool { return strings.Contains(c.Err, "connection refused") }):
		return "nothing listens on $PORT (connection refused): does the program listen on $PORT, on 127.0.0.1 or all addresses? Its log is below; if it only binds late, " + raise
	case strings.Contains(last.Err, "health check timeout"):
		return fmt.Sprintf("%s answers slower than the health check timeout: raise services.%s.health.timeout (now %v) or the deploy deadline (services.%s.deadline, now %v), or make the health endpoint answer without waiting on slow work",
			healthTarget(h.HTTP, h.TCP), svc.Name, h.Timeout, svc.Name, deadline)
	}
	return raise + " or give it a health start_period if it was still starting, else fix the health check " + healthTarget(h.HTTP, h.TCP) + " so it passes sooner"
}

// healthTarget names what a service's health check asks for.
func healthTarget(path string, tcp bool) string {
	switch {
	case tcp:
		return "(tcp connect to $PORT)"
	case path == "":
		return "GET /"
	}
	return "GET " + path
}

// stopWarm stops warm instances of release id: a fresh deploy of the
// same release replaced them, so they would only idle unlisted.
func (d *Deployer) stopWarm(dep *deployment, id string) {
	d.mu.Lock()
	var stale []*instance
	for in, r := range dep.warm {
		if r.id == id {
			stale = append(stale, in)
			delete(dep.warm, in)
		}
	}
	d.mu.Unlock()
	for _, in := range stale {
		d.retire(in, time.Millisecond)
	}
}

// serving is the result of a deploy that put req's release into service.
func (d *Deployer) serving(dep *deployment, req Request, logf func(string, ...any)) Result {
	res := d.result(dep, req.Environment, req.Release)
	logf("%s/%s: release %s serves at %s", req.Environment.Name, req.Service.Name, req.Release, res.URL)
	return res
}

// result is what a deploy that leaves release id serving returns.
func (d *Deployer) result(dep *deployment, env spec.Environment, id string) Result {
	url := env.URL
	if url == "" && len(dep.hosts) > 0 {
		url = strings.Replace(d.ProxyURL, "127.0.0.1", dep.hosts[0], 1)
	}
	return Result{Release: id, URL: url, Hosts: dep.hosts}
}

// progress writes one progress line of a deploy.
func progress(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "velocity: "+format+"\n", args...)
}

// deployment returns (creating) the route of env/service. It refuses a
// host another service already owns: routing it anew would silently
// take that service's traffic, or leave one of the two unreachable.
func (d *Deployer) deployment(env spec.Environment, svc spec.Service) (*deployment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.live == nil {
		d.live, d.owners = map[string]*deployment{}, map[string]string{}
	}
	key := env.Name + "/" + svc.Name
	if dep := d.live[key]; dep != nil {
		dep.deploys++
		return dep, nil
	}
	patterns := env.Hosts
	if len(patterns) == 0 {
		patterns = []string{"{service}." + env.Name + ".localhost"}
	}
	var hosts []string
	for _, h := range patterns {
		host := strings.ToLower(strings.ReplaceAll(h, "{service}", svc.Name))
		if owner, taken := d.owners[host]; taken && owner != key && d.serves(owner) {
			return nil, fmt.Errorf("%s: host %s already routes to %s; a host routes to one service: give environment %s hosts with {service} in them (such as {service}.example.com) or deploy %s to another environment",
				key, host, owner, env.Name, svc.Name)
		}
		hosts = append(hosts, host)
	}
	for _, host := range hosts {
		if owner, taken := d.owners[host]; taken && owner != key {
			d.evict(owner)
		}
	}
	dep := &deployment{route: d.Proxy.NewRoute(env.Name, svc.Name), hosts: hosts, deploys: 1}
	for _, host := range hosts {
		d.owners[host] = key
		d.Proxy.SetRoute(host, dep.route)
	}
	d.live[key] = dep
	return dep, nil
}

// serves reports whether the deployment key serves or is being
// deployed; one whose only deploys failed does neither. d.mu is held.
func (d *Deployer) serves(key string) bool {
	dep := d.live[key]
	return dep != nil && (dep.current != nil || dep.deploys > 0 || len(dep.warm) > 0)
}

// evict forgets a deployment that serves nothing, freeing its hosts for
// another service. d.mu is held.
func (d *Deployer) evict(key string) {
	dep := d.live[key]
	if dep == nil {
		return
	}
	for _, h := range dep.hosts {
		delete(d.owners, h)
		d.Proxy.RemoveRoute(h)
	}
	delete(d.live, key)
}

// maxPortTries is how many times an instance is started on a new port
// when another program took its port before it could listen: the port
// was free when picked, so a second taker in a row is rare and a third
// means something grabs every port it is offered.
const maxPortTries = 3

// start starts one instance of r and waits until the proxy's health check
// passes. An instance whose port another program took before it could
// bind it is started again on another port.
func (d *Deployer) start(ctx context.Context, r *release, req Request) (*instance, error) {
	for try := 1; ; try++ {
		in, err := d.startOnce(ctx, r, req)
		taken, ok := errors.AsType[*portTaken](err)
		if !ok || try == maxPortTries {
			return in, err
		}
		progress(req.Log, "%s/%s: %v; starting it again on another port", req.Environment.Name, req.Service.Name, taken)
		d.forget(r, in)
		d.retire(in, time.Millisecond)
	}
}

func (d *Deployer) startOnce(ctx context.Context, r *release, req Request) (*instance, error) {
	svc := req.Service
	env := append(append([]string(nil), req.Env...), envList(svc.Env)...)
	rs := runtime.Spec{
		Service: svc.Name, Environment: req.Environment.Name, Release: r.id,
		Dir: r.dir, Command: svc.Run, Env: env, LogDir: filepath.Join(r.dir, ".logs"),
		Memory: svc.Memory, CPU: svc.CPU, Secrets: secretValues(req), PortRange: req.Ports,
		Health: runtime.Health{HTTP: cmp.Or(svc.Health.HTTP, "/"), TCP: svc.Health.TCP, Interval: svc.Health.Interval, Timeout: svc.Health.Timeout},
	}
	if svc.Image != "" {
		// The port inside the container; a host process's is picked,
		// as two instances of a release cannot share one.
		rs.Image, rs.Port = cmp.Or(req.ImageID, svc.Image), svc.Port
	}
	proc, err := d.Runtime.Start(ctx, rs)
	if full, ok := errors.AsType[*netport.FullError](err); ok {
		return nil, fmt.Errorf("instance %d of release %s: %w (a %s deploy of %d replicas takes up to %d ports, the old release's and the new one's side by side)",
			len(r.instances)+1, r.id, full, strategyName(svc), max(svc.Replicas, 1), portsNeeded(svc))
	}
	if err != nil {
		return nil, err
	}
	in := &instance{proc: proc}
	r.instances = append(r.instances, in)
	in.target, err = d.Proxy.NewTarget("http://" + proc.Addr())
	if err != nil {
		return in, err
	}
	in.stopCheck = in.target.StartHealthCheck(context.WithoutCancel(ctx), healthCheck(req))
	return in, d.waitHealthy(ctx, in, len(r.instances), r, req)
}

// strategyName is the service's strategy, rolling when unset.
func strategyName(svc spec.Service) string {
	if svc.Strategy.Type == "" {
		return "rolling"
	}
	return svc.Strategy.Type
}

// portsNeeded is how many ports a deploy of svc holds at its peak: a
// rolling deploy starts one instance beyond the old release's, the
// others run the whole new release beside the old.
func portsNeeded(svc spec.Service) int {
	n := max(svc.Replicas, 1)
	if strategyName(svc) == "rolling" {
		return n + 1
	}
	return 2 * n
}

// secretValues picks the values of the service's secrets out of the
// request's environment, where the caller resolved them, so that the
// runtime masks them in the instances' output.
func secretValues(req Request) [][]byte {
	var out [][]byte
	for _, name := range req.Service.Secrets {
		for _, kv := range req.Env {
			if v, ok := strings.CutPrefix(kv, name+"="); ok && v != "" {
				out = append(out, []byte(v))
			}
		}
	}
	return out
}

// groups puts the given releases on the route, weighted by weights (or by
// instance count when weights is nil).
func groups(rels []*release, weights []int) []proxy.Group {
	var out []proxy.Group
	total := 0
	for _, r := range rels {
		total += len(r.instances)
	}
	for i, r := range rels {
		if r == nil || len(r.instances) == 0 {
			continue
		}
		w := 0
		if weights != nil {
			w = weights[i]
		} else {
			w = max(100*len(r.instances)/max(total, 1), 1)
		}
		if w == 0 {
			continue
		}
		var targets []*proxy.Target
		for _, in := range r.instances {
			targets = append(targets, in.target)
		}
		out = append(out, proxy.Group{Release: r.id, Weight: w, Targets: targets})
	}
	return out
}

// drainTimeout is the service's drain with its default applied.
func drainTimeout(svc spec.Service) time.Duration {
	if svc.Drain <= 0 {
		return 10 * time.Second
	}
	return svc.Drain
}

// retire drains an instance and stops it.
func (d *Deployer) retire(in *instance, drain time.Duration) {
	if drain <= 0 {
		drain = 10 * time.Second
	}
	if in.target != nil {
		ctx, cancel := context.WithTimeout(context.Background(), drain+time.Second)
		in.target.Drain(ctx, drain)
		cancel()
	}
	if in.stopCheck != nil {
		in.stopCheck()
	}
	in.proc.Stop(context.Background())
}

// keepWarm stops old blue-green instances after keep, draining them first
// so their in-flight requests finish; until then Close can stop them.
func (d *Deployer) keepWarm(dep *deployment, old *release, drain, keep time.Duration) {
	d.mu.Lock()
	if dep.warm == nil {
		dep.warm = map[*instance]*release{}
	}
	for _, in := range old.instances {
		dep.warm[in] = old
	}
	d.mu.Unlock()
	go func() {
		var wg sync.WaitGroup
		for _, in := range old.instances {
			wg.Go(func() { in.target.Drain(context.Background(), drain) })
		}
		wg.Wait()
		time.Sleep(keep)
		for _, in := range old.instances {
			d.mu.Lock()
			_, mine := dep.warm[in]
			delete(dep.warm, in)
			d.mu.Unlock()
			if mine { // else Close has it
				d.retire(in, time.Millisecond)
			}
		}
	}()
}

// abort stops a failed release's instances and puts the old one back. The
// new instances may have been serving (a rolling deploy's first ones, a
// canary), so they are drained before they are stopped: requests in
// flight to them finish. Without an old release the route is emptied, so
// clients get a clear 503 rather than a dial error to a stopped instance.
func (d *Deployer) abort(dep *deployment, r *release, drain time.Duration) {
	var err error
	if dep.current != nil {
		err = dep.route.SetGroups(groups([]*release{dep.current}, nil))
	} else {
		err = dep.route.SetGroups(nil)
	}
	if err != nil && d.Logger != nil {
		d.Logger.Error("restoring the route after a failed deploy", "release", r.id, "err", err)
	}
	var wg sync.WaitGroup
	for _, in := range r.instances {
		wg.Go(func() { d.retire(in, drain) })
	}
	wg.Wait()
}

// report is appended to a failed deploy's error: what the new instances
// said and what their health check saw last.
func (r *release) report() string {
	var b strings.Builder
	for _, in := range r.instances {
		fmt.Fprintf(&b, "\ninstance %s (release %s):", in.proc.ID(), r.id)
		if as := in.answers.list(); len(as) > 0 {
			fmt.Fprintf(&b, "\n  last health checks:")
			for _, a := range as {
				fmt.Fprintf(&b, "\n    %s", a)
			}
		} else if in.target != nil {
			if c, ok := in.target.LastCheck(); ok {
				fmt.Fprintf(&b, "\n  last health check: %s", c)
			}
		}
		if n, last := exits(in.proc); n > 0 {
			fmt.Fprintf(&b, "\n  process exits: %d, the last %s", n, last)
		}
		lines := in.proc.LastLines(15)
		if len(lines) == 0 {
			b.WriteString("\n  (no output)")
		}
		for _, l := range lines {
			fmt.Fprintf(&b, "\n  | %s", l)
		}
	}
	return b.String()
}

// Close stops every instance of every deployment, including old
// blue-green instances still kept warm.
func (d *Deployer) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	var all []*instance
	for _, dep := range d.live {
		for in := range dep.warm {
			all = append(all, in)
		}
		dep.warm = nil
		if dep.current != nil {
			all = append(all, dep.current.instances...)
		}
	}
	var wg sync.WaitGroup
	for _, in := range all {
		wg.Go(func() {
			if in.stopCheck != nil {
				in.stopCheck()
			}
			in.proc.Stop(context.Background())
		})
	}
	wg.Wait()
}

// Instances returns the runtime instances of the release serving service
// in env, for status displays and tests; nil when nothing is deployed.
func (d *Deployer) Instances(env, service string) []runtime.Instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	dep := d.live[env+"/"+service]
	if dep == nil || dep.current == nil {
		return nil
	}
	out := make([]runtime.Instance, 0, len(dep.current.instances))
	for _, in := range dep.current.instances {
		out = append(out, in.proc)
	}
	return out
}

// URLs lists what serves: "ENV/SERVICE release URL".
func (d *Deployer) URLs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for key, dep := range d.live {
		if dep.current != nil && len(dep.hosts) > 0 {
			out = append(out, fmt.Sprintf("%s (release %s): %s", key, dep.current.id,
				strings.Replace(d.ProxyURL, "127.0.0.1", dep.hosts[0], 1)))
		}
	}
	return out
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// private returns files with only their owner's permission bits: a
// release lives in the data directory, which is the owner's alone; the
// executable bit the instance needs is kept.
func private(files []artifact.File) []artifact.File {
	out := make([]artifact.File, len(files))
	for i, f := range files {
		if !f.IsSymlink() {
			f.Mode &^= 0o077
		}
		out[i] = f
	}
	return out
}
