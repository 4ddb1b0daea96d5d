// Command kubedeploy measures whether deploys of examples/guestbook to a
// Kubernetes cluster drop requests. It copies the example into a fresh
// git repository, runs its whole pipeline with `velocity run --approve`
// with the actions and services that name an image sent to the cluster
// (VELOCITY_KUBE_NAMESPACE), and keeps that first velocity serving the
// proxy. Then, under a fixed-concurrency GET load through the proxy on
// both environments' hosts, it commits a change of the service's
// strategy (rolling, blue-green, canary in turn) and runs the pipeline
// again: each run builds new images (the commit is in the binary),
// tests them in the cluster and deploys staging, then production, so
// every run is two deploys. After each run it checks that production
// serves the new commit.
//
// Usage, from the module's root, with a cluster (.ci/kube/up prints its
// kubeconfig) and a Docker Engine:
//
//	go run ./bench/kubedeploy -kubeconfig FILE [-runs 5] [-concurrency 16] [-min-requests 20000] [-example DIR]
//
// The goal is 0 failed requests (non-2xx answers or connection errors)
// out of at least -min-requests over the runs' deploys; the load goes on
// after the last run until that many were sent. It exits 1 if a request,
// a run or a check failed.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/velocity-ci/velocity/internal/proc"
)

var strategies = []string{
	"rolling",
	"blue-green",
	"{type: canary, steps: [{weight: 50, pause: 3s}], analysis: {min_requests: 20}}",
}

type config struct {
	kubeconfig  string
	runs        int
	concurrency int
	minRequests int64
	proxy       string
	example     string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "the cluster's kubeconfig (.ci/kube/up prints one)")
	flag.IntVar(&cfg.runs, "runs", 5, "pipeline runs after the first, each deploying staging and production")
	flag.IntVar(&cfg.concurrency, "concurrency", 16, "concurrent HTTP clients, half on each environment")
	flag.Int64Var(&cfg.minRequests, "min-requests", 20000, "requests the load must reach before it stops")
	flag.StringVar(&cfg.proxy, "proxy", "127.0.0.1:18080", "where velocity's proxy listens")
	flag.StringVar(&cfg.example, "example", "examples/guestbook", "the project to deploy: a copy of the guestbook example with a strategy: line")
	flag.Parse()
	if cfg.kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "kubedeploy: -kubeconfig (or KUBECONFIG) is required: bash .ci/kube/up prints one")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "kubedeploy:", err)
		os.Exit(1)
	}
}

type bench struct {
	cfg       config
	velocity  string
	repo      string
	env       []string
	namespace string
}

func run(ctx context.Context, cfg config) error {
	tmp, err := os.MkdirTemp("", "kubedeploy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{cfg: cfg, velocity: filepath.Join(tmp, "velocity"), repo: filepath.Join(tmp, "guestbook"),
		namespace: fmt.Sprintf("kubedeploy-%d", os.Getpid())}
	fmt.Fprintln(os.Stderr, "building velocity")
	if err := b.cmd(ctx, ".", os.Stderr, "go", "build", "-o", b.velocity, "./cmd/velocity"); err != nil {
		return err
	}
	kubectl, err := kubectlPath()
	if err != nil {
		return err
	}
	if err := b.cmd(ctx, ".", io.Discard, kubectl, "--kubeconfig", cfg.kubeconfig, "create", "namespace", b.namespace); err != nil {
		return fmt.Errorf("create namespace %s: %w", b.namespace, err)
	}
	defer b.cmd(context.Background(), ".", io.Discard, kubectl, "--kubeconfig", cfg.kubeconfig, "delete", "namespace", b.namespace, "--wait=false")
	if err := os.CopyFS(b.repo, os.DirFS(cfg.example)); err != nil {
		return fmt.Errorf("copy the example: %w", err)
	}
	b.env = append(os.Environ(), "VELOCITY_HOME="+filepath.Join(tmp, "home"), "VELOCITY_KUBE_NAMESPACE="+b.namespace,
		"KUBECONFIG="+cfg.kubeconfig, "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@localhost",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@localhost")
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"commit", "-qm", "guestbook"}} {
		if err := b.cmd(ctx, b.repo, os.Stderr, "git", args...); err != nil {
			return err
		}
	}

	// The first run deploys and then serves the proxy until interrupted;
	// the next runs deploy through it.
	fmt.Fprintf(os.Stderr, "run 1: the whole pipeline, pods in namespace %s\n", b.namespace)
	hostCtx, stopHost := context.WithCancel(ctx)
	defer stopHost()
	serving := make(chan struct{})
	out := &lineWatch{prefix: "  | ", w: os.Stderr, match: "serving through the proxy at", seen: serving}
	host, err := proc.Start(hostCtx, proc.Spec{
		Path: b.velocity, Args: []string{"run", "--approve", "--proxy-addr", cfg.proxy},
		Dir: b.repo, Env: b.env, Stdout: out, Stderr: out, Group: true, KillGrace: 30 * time.Second,
	})
	if err != nil {
		return err
	}
	hostDone := make(chan error, 1)
	go func() {
		exit, err := host.Wait()
		if err == nil {
			err = exit.Err()
		}
		hostDone <- err
	}()
	select {
	case <-serving:
	case err := <-hostDone:
		return fmt.Errorf("the first run ended before serving: %v", err)
	case <-time.After(10 * time.Minute):
		return errors.New("the first run did not serve within 10 minutes")
	}
	defer func() {
		// As Ctrl-C: the instances' pods are deleted.
		host.Signal(syscall.SIGINT)
		select {
		case <-hostDone:
		case <-time.After(time.Minute):
			stopHost()
		}
	}()

	l := newLoad(cfg)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	l.start(loadCtx, &wg)
	began := time.Now()
	var runErr error
	for i := range cfg.runs {
		strategy := strategies[i%len(strategies)]
		if err := b.commit(ctx, strategy, i+2); err != nil {
			runErr = err
			break
		}
		commit, err := b.output(ctx, "git", "rev-parse", "HEAD")
		if err != nil {
			runErr = err
			break
		}
		before := l.requests.Load()
		t0 := time.Now()
		fmt.Fprintf(os.Stderr, "run %d: strategy %s, commit %.12s\n", i+2, strategy, commit)
		if err := b.cmd(ctx, b.repo, &lineWatch{prefix: "  | ", w: os.Stderr}, b.velocity, "run", "--approve", "--progress", "plain"); err != nil {
			runErr = fmt.Errorf("run %d (%s): %w", i+2, strategy, err)
			break
		}
		if err := l.serves(ctx, "web.production.localhost", "guestbook "+commit); err != nil {
			runErr = fmt.Errorf("after run %d: %w", i+2, err)
			break
		}
		took := time.Since(t0)
		// The instances are the namespace's pods, not processes or
		// containers of this machine.
		pods, err := b.output(ctx, kubectl, "--kubeconfig", cfg.kubeconfig, "-n", b.namespace, "get", "pods",
			"-l", "velocity.service-instance", "--field-selector", "status.phase=Running", "-o", "name")
		if err != nil {
			runErr = fmt.Errorf("list the instances' pods: %w", err)
			break
		}
		if n := len(strings.Fields(pods)); n < 4 {
			runErr = fmt.Errorf("after run %d: %d pods of service instances run, want 2 per environment", i+2, n)
			break
		}
		fmt.Fprintf(os.Stderr, "run %d: 2 deploys in %v, %d requests meanwhile, %d failed so far; instances: %s\n",
			i+2, took.Round(100*time.Millisecond), l.requests.Load()-before, l.failed.Load(), strings.Join(strings.Fields(pods), " "))
	}
	deploysEnded := time.Now()
	for runErr == nil && l.requests.Load() < cfg.minRequests && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	stopLoad()
	wg.Wait()
	fmt.Printf("deploys: %d (%d runs x staging and production, strategies in turn: rolling, blue-green, canary)\n", 2*cfg.runs, cfg.runs)
	fmt.Printf("load: %d clients for %v (deploys took %v)\n", cfg.concurrency, time.Since(began).Round(time.Second), deploysEnded.Sub(began).Round(time.Second))
	fmt.Printf("requests: %d, failed: %d\n", l.requests.Load(), l.failed.Load())
	for _, e := range l.samples() {
		fmt.Printf("  failure: %s\n", e)
	}
	switch {
	case runErr != nil:
		return runErr
	case l.failed.Load() > 0:
		return fmt.Errorf("%d requests failed", l.failed.Load())
	case l.requests.Load() < cfg.minRequests:
		return fmt.Errorf("only %d requests", l.requests.Load())
	}
	return nil
}

var strategyLine = regexp.MustCompile(`(?m)^    strategy: .*$`)

// commit sets the service's strategy and commits: a new commit is a new
// build (its hash is in the binary), so a new release.
func (b *bench) commit(ctx context.Context, strategy string, n int) error {
	p := filepath.Join(b.repo, "velocity.yml")
	y, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if !strategyLine.Match(y) {
		return errors.New("velocity.yml of the example has no strategy: line")
	}
	y = strategyLine.ReplaceAll(y, []byte("    strategy: "+strategy))
	// A line of its own makes the commit even when the strategy repeats.
	y = append(y, fmt.Sprintf("# release %d\n", n)...)
	if err := os.WriteFile(p, y, 0o644); err != nil {
		return err
	}
	return b.cmd(ctx, b.repo, os.Stderr, "git", "commit", "-qam", fmt.Sprintf("release %d: %s", n, strategy))
}

func (b *bench) cmd(ctx context.Context, dir string, out io.Writer, path string, args ...string) error {
	p, err := proc.Start(ctx, proc.Spec{Path: path, Args: args, Dir: dir, Env: b.env, Stdout: out, Stderr: out, Group: true, KillGrace: 30 * time.Second})
	if err != nil {
		return err
	}
	exit, err := p.Wait()
	if err != nil {
		return err
	}
	return exit.Err()
}

func (b *bench) output(ctx context.Context, path string, args ...string) (string, error) {
	var sb strings.Builder
	p, err := proc.Start(ctx, proc.Spec{Path: path, Args: args, Dir: b.repo, Env: b.env, Stdout: &sb})
	if err != nil {
		return "", err
	}
	exit, err := p.Wait()
	if err == nil {
		err = exit.Err()
	}
	return strings.TrimSpace(sb.String()), err
}

// kubectlPath finds kubectl: in PATH, else where .ci/kube/build puts it.
func kubectlPath() (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if p := filepath.Join(dir, "kubectl"); isExec(p) {
			return p, nil
		}
	}
	home, _ := os.UserHomeDir()
	matches, _ := filepath.Glob(filepath.Join(home, ".cache/velocity/kube/*/bin/kubectl"))
	for _, p := range matches {
		if isExec(p) {
			return p, nil
		}
	}
	return "", errors.New("kubectl not found in PATH nor in ~/.cache/velocity/kube (run .ci/kube/build)")
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// lineWatch copies output line by line with a prefix and closes seen
// the first time a line contains match.
type lineWatch struct {
	prefix string
	w      io.Writer
	match  string
	seen   chan struct{}

	mu   sync.Mutex
	buf  []byte
	done bool
}

func (l *lineWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.buf[:i])
		l.buf = l.buf[i+1:]
		fmt.Fprintln(l.w, l.prefix+line)
		if l.match != "" && !l.done && strings.Contains(line, l.match) {
			l.done = true
			close(l.seen)
		}
	}
}

// load sends GETs through the proxy from a fixed number of clients, half
// on each environment's host, and counts what fails.
type load struct {
	cfg      config
	client   *http.Client
	requests atomic.Int64
	failed   atomic.Int64

	mu     sync.Mutex
	sample []string
}

func newLoad(cfg config) *load {
	return &load{cfg: cfg, client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.concurrency, DisableCompression: true},
	}}
}

func (l *load) start(ctx context.Context, wg *sync.WaitGroup) {
	hosts := []string{"web.production.localhost", "web.staging.localhost"}
	for i := range l.cfg.concurrency {
		host := hosts[i%len(hosts)]
		wg.Go(func() {
			for ctx.Err() == nil {
				err := l.get(ctx, host)
				if ctx.Err() != nil {
					return // cut off by the end of the load, not a failure
				}
				l.requests.Add(1)
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.sample) < 10 {
						l.sample = append(l.sample, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), host, err))
					}
					l.mu.Unlock()
				}
			}
		})
	}
}

func (l *load) get(ctx context.Context, host string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+l.cfg.proxy+"/", nil)
	if err != nil {
		return err
	}
	req.Host = host
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// serves checks that host's first line of GET / starts with want.
func (l *load) serves(ctx context.Context, host, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+l.cfg.proxy+"/", nil)
	if err != nil {
		return err
	}
	req.Host = host
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	first, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if !strings.HasPrefix(first, want) {
		return fmt.Errorf("%s serves %q, want %q", host, strings.TrimSpace(first), want)
	}
	return nil
}

func (l *load) samples() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.sample...)
}
