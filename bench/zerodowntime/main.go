// Command zerodowntime measures whether deploys drop requests. In one
// process it builds the small HTTP app of the deploy tests, starts Velocity's local
// runtime, proxy and deployer on loopback, and for each strategy runs a
// fixed-concurrency GET load through the proxy while deploys alternate two
// releases of the app. A baseline load without deploys comes first, so the
// latency under deploys can be compared with it.
//
// With -runtime docker the instances are containers (the container runtime,
// as for a service with image:): the app is built statically into two
// images, A and B, on top of a busybox image made from the host's
// busybox-static binary, and deploys alternate the two images. The images
// and containers are removed at the end.
//
// Usage, from anywhere in the module:
//
//	go run ./bench/zerodowntime [-duration 30s] [-deploys 20] [-concurrency 32] [-strategy all|rolling|blue-green|canary] [-runtime local|docker]
//
// The goal is 0 failed requests (non-2xx answers or connection errors) out
// of at least 50,000 per strategy. The command exits 1 if any request or
// deploy failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/proc"
	"github.com/velocity-ci/velocity/internal/proxy"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/spec"
)

const (
	appPackage = "github.com/velocity-ci/velocity/internal/deploy/testdata/app" // the deploy tests' app
	envName    = "bench"
	replicas   = 2
)

var strategies = []string{"rolling", "blue-green", "canary"}

type config struct {
	runtime     string // "local" or "docker"
	duration    time.Duration
	deploys     int
	concurrency int
	strategies  []string
}

func main() {
	var cfg config
	var strategy string
	flag.DurationVar(&cfg.duration, "duration", 30*time.Second, "load duration of the baseline and of each strategy")
	flag.IntVar(&cfg.deploys, "deploys", 20, "deploys per strategy, spread over the duration")
	flag.IntVar(&cfg.concurrency, "concurrency", 32, "concurrent HTTP clients")
	flag.StringVar(&strategy, "strategy", "all", "all, rolling, blue-green or canary")
	flag.StringVar(&cfg.runtime, "runtime", "local", "local (host processes) or docker (containers)")
	flag.Parse()
	if cfg.runtime != "local" && cfg.runtime != "docker" {
		fmt.Fprintf(os.Stderr, "zerodowntime: unknown runtime %q (local or docker)\n", cfg.runtime)
		os.Exit(2)
	}
	switch {
	case strategy == "all":
		cfg.strategies = strategies
	case slices.Contains(strategies, strategy):
		cfg.strategies = []string{strategy}
	default:
		fmt.Fprintf(os.Stderr, "zerodowntime: unknown strategy %q\n", strategy)
		os.Exit(2)
	}
	if cfg.duration <= 0 || cfg.deploys < 0 || cfg.concurrency <= 0 {
		fmt.Fprintln(os.Stderr, "zerodowntime: -duration and -concurrency must be positive, -deploys not negative")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	failed, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "zerodowntime:", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

// bench is the Velocity side of the benchmark: what `velocity` wires up,
// on loopback.
type bench struct {
	d        *deploy.Deployer
	proxyURL string
	releases [2][]artifact.File // A and B
	images   [2]string          // A and B, with -runtime docker
	next     int                // release number, unique per deploy
}

func run(ctx context.Context, cfg config) (failed bool, err error) {
	work, err := os.MkdirTemp("", "velocity-zerodowntime")
	if err != nil {
		return false, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)

	fmt.Fprintln(os.Stderr, "building the app...")
	bin := filepath.Join(work, "app")
	if err := goBuild(ctx, bin, cfg.runtime == "docker"); err != nil {
		return false, fmt.Errorf("build %s: %w", appPackage, err)
	}
	blobs, err := artifact.OpenBlobs(filepath.Join(work, "blobs"))
	if err != nil {
		return false, err
	}
	b := &bench{}
	for i, version := range []string{"A", "B"} {
		if b.releases[i], err = collectRelease(blobs, filepath.Join(work, "src-"+version), bin, version); err != nil {
			return false, err
		}
	}

	// Warnings only: instance crashes and dial failures are worth seeing,
	// routine starts and stops are not.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var rt closer
	if cfg.runtime == "docker" {
		var cleanup func()
		rt, cleanup, err = b.containers(ctx, logger, bin)
		if cleanup != nil {
			defer cleanup()
		}
	} else {
		rt, err = runtime.NewLocal(runtime.Config{Logger: logger})
	}
	if err != nil {
		return false, fmt.Errorf("runtime: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = rt.Close(cctx)
	}()
	px := proxy.New(proxy.Options{Logger: logger})
	defer px.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false, fmt.Errorf("proxy listener: %w", err)
	}
	// The proxy's own data path, as velocity run and velocity serve use it.
	go px.Serve(ln, proxy.ServeOptions{})
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = px.Shutdown(sctx)
	}()
	b.proxyURL = "http://" + ln.Addr().String()
	b.d = &deploy.Deployer{
		Runtime: rt, Proxy: px, Blobs: blobs, Dir: filepath.Join(work, "releases"),
		ProxyURL: b.proxyURL, Logger: logger,
	}
	defer b.d.Close()

	fmt.Fprintf(os.Stderr, "baseline: %v of load at concurrency %d, no deploys\n", cfg.duration, cfg.concurrency)
	base, err := b.measure(ctx, cfg, "baseline", 0)
	if err != nil {
		return false, err
	}
	results := []result{base}
	for _, s := range cfg.strategies {
		fmt.Fprintf(os.Stderr, "%s: %v of load at concurrency %d, %d deploys\n", s, cfg.duration, cfg.concurrency, cfg.deploys)
		r, err := b.measure(ctx, cfg, s, cfg.deploys)
		if err != nil {
			return false, err
		}
		results = append(results, r)
	}
	fmt.Fprintf(os.Stdout, "\nruntime: %s\n", cfg.runtime)
	printTable(os.Stdout, cfg, results)
	for _, r := range results {
		if r.non2xx > 0 || r.connErrors > 0 || r.deploysFailed > 0 {
			failed = true
		}
	}
	return failed, ctx.Err()
}

// collectRelease puts the app and its version.txt into dir and stores
// them, as a build action's outputs would be.
func collectRelease(blobs *artifact.Blobs, dir, bin, version string) ([]artifact.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("release %s: %w", version, err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", version, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app"), b, 0o755); err != nil {
		return nil, fmt.Errorf("release %s: %w", version, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "version.txt"), []byte(version+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("release %s: %w", version, err)
	}
	files, err := blobs.Collect(dir, []string{"app", "version.txt"})
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", version, err)
	}
	return files, nil
}

// service is the benchmark's service for one strategy; each strategy gets
// a service (and so a host and route) of its own.
func service(strategy string) spec.Service {
	typ := strategy
	if strategy == "baseline" {
		typ = "rolling"
	}
	return spec.Service{
		Name:     strategy,
		Run:      "exec ./app",
		Replicas: replicas,
		Health: spec.Health{
			HTTP: "/healthz", Interval: 200 * time.Millisecond, Timeout: time.Second,
			Healthy: 1, Unhealthy: 3,
		},
		Strategy: spec.Strategy{
			Type: typ,
			// Short enough that old blue-green releases do not pile up
			// over 20 deploys.
			KeepWarm: time.Second,
			// 20 canaries must fit in the duration.
			Steps: []spec.CanaryStep{{Weight: 50, Pause: 200 * time.Millisecond}},
			Analysis: spec.Analysis{
				MaxErrorRateIncrease: 0.01,
				// Off (0): both releases are the same app, and on a
				// saturated 2-core machine a freshly started canary's p95
				// is scheduling noise (one run saw 134ms against 18ms),
				// which rolled canaries back. The error rate still counts.
				MaxLatencyRatio: 0,
				MinRequests:     20,
			},
		},
		Drain:    5 * time.Second,
		Deadline: 30 * time.Second,
	}
}

// deploy deploys release A (version 0) or B (1) of svc.
func (b *bench) deploy(ctx context.Context, svc spec.Service, version int) error {
	b.next++
	id := fmt.Sprintf("r%d", b.next)
	req := deploy.Request{
		Service: svc, Environment: spec.Environment{Name: envName},
		Release: id, Files: b.releases[version], Log: io.Discard,
	}
	if b.images[version] != "" {
		// Inside its container the app must listen on every interface.
		req.Service.Image, req.Service.Run, req.Files = b.images[version], "", nil
		req.Env = []string{"APP_HOST=0.0.0.0"}
	}
	_, err := b.d.Deploy(ctx, req)
	if err != nil {
		return fmt.Errorf("deploy %s of %s: %w", id, svc.Name, err)
	}
	// Release directories are never cleaned up by the deployer; two
	// deploys back nothing serves from them (a kept-warm instance already
	// has its binary open), so 60 copies of the app do not fill /tmp.
	if b.next > 2 {
		_ = os.RemoveAll(filepath.Join(b.d.Dir, envName, svc.Name, fmt.Sprintf("r%d", b.next-2)))
	}
	return nil
}

// result is one row of the table.
type result struct {
	name                   string
	duration               time.Duration
	requests               int
	non2xx                 int
	connErrors             int
	deploys, deploysFailed int
	p50, p99               time.Duration
	firstFailures          []string
	deployErrors           []string
}

// measure deploys release A of the strategy's service, then runs the load
// for cfg.duration while n deploys alternate B and A, evenly spaced. The
// load goes on until the last deploy has finished.
func (b *bench) measure(ctx context.Context, cfg config, strategy string, n int) (result, error) {
	svc := service(strategy)
	if err := b.deploy(ctx, svc, 0); err != nil {
		return result{}, err
	}
	res := result{name: strategy, deploys: n}
	host := strategy + "." + envName + ".localhost"
	stop := make(chan struct{})
	var mu sync.Mutex
	var latencies []time.Duration
	var non2xx, connErrors atomic.Int64
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: cfg.concurrency,
		IdleConnTimeout:     90 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.concurrency {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 8192)
			var fails []string
			for {
				select {
				case <-stop:
					mu.Lock()
					latencies = append(latencies, lat...)
					if room := 5 - len(res.firstFailures); room > 0 {
						res.firstFailures = append(res.firstFailures, fails[:min(room, len(fails))]...)
					}
					mu.Unlock()
					return
				default:
				}
				t0 := time.Now()
				status, err := get(client, b.proxyURL, host)
				lat = append(lat, time.Since(t0))
				switch {
				case err != nil:
					connErrors.Add(1)
					fails = append(fails, err.Error())
				case status < 200 || status > 299:
					non2xx.Add(1)
					fails = append(fails, fmt.Sprintf("HTTP %d", status))
				}
			}
		})
	}

	if n > 0 {
		// Evenly spaced, the last one well before the end, so the load
		// also sees the settled state after each.
		interval := cfg.duration / time.Duration(n+1)
		for i := range n {
			select {
			case <-ctx.Done():
			case <-time.After(time.Until(start.Add(time.Duration(i+1) * interval))):
			}
			if ctx.Err() != nil {
				break
			}
			if err := b.deploy(ctx, svc, 1-i%2); err != nil {
				res.deploysFailed++
				res.deployErrors = append(res.deployErrors, err.Error())
			}
		}
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(start.Add(cfg.duration))):
	}
	close(stop)
	wg.Wait()
	res.duration = time.Since(start)
	res.requests = len(latencies)
	res.non2xx, res.connErrors = int(non2xx.Load()), int(connErrors.Load())
	slices.Sort(latencies)
	res.p50, res.p99 = percentile(latencies, 50), percentile(latencies, 99)
	for _, f := range res.firstFailures {
		fmt.Fprintf(os.Stderr, "  failed request: %s\n", f)
	}
	for _, e := range res.deployErrors {
		fmt.Fprintf(os.Stderr, "  failed deploy: %s\n", e)
	}
	return res, nil
}

// get sends one GET through the proxy and reads the whole answer, so the
// connection goes back to the pool.
func get(client *http.Client, proxyURL, host string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, proxyURL+"/", nil)
	if err != nil {
		return 0, fmt.Errorf("request: %w", err)
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return 0, err //nolint:wrapcheck // printed as is
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, fmt.Errorf("reading the body: %w", err)
	}
	return resp.StatusCode, nil
}

// percentile is nearest-rank on sorted samples.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}

func printTable(w io.Writer, cfg config, results []result) {
	fmt.Fprintf(w, "\n%d clients, %d deploys per strategy, %d replicas, over %v each\n\n", cfg.concurrency, cfg.deploys, replicas, cfg.duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tdeploys ok\trequests\treq/s\tnon-2xx\tconn errors\tp50\tp99\tp50 vs base\tp99 vs base\t")
	base := results[0]
	for _, r := range results {
		deploys := "-"
		if r.name != "baseline" {
			deploys = fmt.Sprintf("%d/%d", r.deploys-r.deploysFailed, r.deploys)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%d\t%d\t%v\t%v\t%s\t%s\t\n",
			r.name, deploys, r.requests, float64(r.requests)/r.duration.Seconds(), r.non2xx, r.connErrors,
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), ratio(r.p50, base.p50), ratio(r.p99, base.p99))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range results[1:] {
		switch {
		case r.non2xx+r.connErrors > 0:
			fmt.Fprintf(w, "%s: %d of %d requests failed\n", r.name, r.non2xx+r.connErrors, r.requests)
		case r.requests < 50000:
			fmt.Fprintf(w, "%s: 0 failed, but only %d requests (the goal wants at least 50,000)\n", r.name, r.requests)
		default:
			fmt.Fprintf(w, "%s: 0 failed out of %d requests\n", r.name, r.requests)
		}
	}
}

func ratio(d, base time.Duration) string {
	if base <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(d)/float64(base))
}

// goBuild builds the app into bin, statically for an image; ctx ending
// kills the build.
func goBuild(ctx context.Context, bin string, static bool) error {
	var env []string
	if static {
		env = append(os.Environ(), "CGO_ENABLED=0")
	}
	p, err := proc.Start(ctx, proc.Spec{
		Path:   "go",
		Args:   []string{"build", "-ldflags=-s -w", "-o", bin, appPackage},
		Env:    env,
		Stdout: os.Stderr,
		Stderr: os.Stderr,
	})
	if err != nil {
		return err
	}
	exit, err := p.Wait()
	if err != nil {
		return err
	}
	return exit.Err()
}
