package releases_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// appBin is the deploy tests' app (internal/deploy/testdata/app): it
// answers "release X" with X from version.txt beside it.
var appBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "velocity-releases-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	appBin = filepath.Join(dir, "app")
	build := exec.Command("go", "build", "-o", appBin, "../deploy/testdata/app")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build test app:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// data is a data directory: its journal and blob store.
type data struct {
	dir     string
	journal *sqlite.Store
	blobs   *artifact.Blobs
	log     *slog.Logger
}

func newData(t *testing.T) *data {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := artifact.OpenBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	return &data{dir: dir, journal: st, blobs: blobs, log: log}
}

func (d *data) config() releases.HostConfig {
	return releases.HostConfig{
		DataDir: d.dir, Journal: d.journal, Blobs: d.blobs, ProxyAddr: "127.0.0.1:0",
		Environ: []string{"PATH=" + os.Getenv("PATH")}, Logger: d.log, Version: "test",
	}
}

// files stores a release of the app answering "release VERSION", as the
// outputs of build/package.
func (d *data) files(t *testing.T, version string) []store.Output {
	t.Helper()
	dir := t.TempDir()
	bin, err := os.ReadFile(appBin)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "dist"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "dist/app"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dist/version.txt"), []byte(version+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := d.blobs.Collect(dir, []string{"dist/app", "dist/version.txt"})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Output
	for _, f := range got {
		out = append(out, store.Output{Stage: "build", Action: "package", Path: f.Path, Mode: uint32(f.Mode), Size: f.Size, Digest: f.Digest.String(), Link: f.Link})
	}
	return out
}

func service() spec.Service {
	return spec.Service{
		Name: "web", From: "package", Run: "exec ./dist/app", Replicas: 2,
		Health:   spec.Health{HTTP: "/healthz", Interval: 200 * time.Millisecond, Timeout: time.Second, Healthy: 1, Unhealthy: 2},
		Strategy: spec.Strategy{Type: "rolling"},
		Drain:    time.Second, Deadline: 10 * time.Second,
	}
}

func request(release string, run int64, files []store.Output) releases.DeployRequest {
	return releases.DeployRequest{
		Definition: releases.Definition{Service: service(), Environment: spec.Environment{Name: "prod"}, Project: "app"},
		Release:    release, RunID: run, Commit: "c" + release, Files: files,
	}
}

// answer is what the proxy at proxyURL answers for web in prod.
func answer(proxyURL string) (string, error) {
	req, _ := http.NewRequest("GET", proxyURL+"/", nil)
	req.Host = "web.prod.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b))), nil
}

// hammer sends requests through the proxy from before the deploy that
// follows it (it returns once a few were answered) until stop is called
// and at least 10 were sent in all, however fast the deploy was; stop
// returns how many were sent and the answers that were not release one
// or two.
func hammer(proxyURL string) (stop func() (int, []string)) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent int
	var bad []string
	count := func() int { mu.Lock(); defer mu.Unlock(); return sent }
	wg.Go(func() {
		for {
			select {
			case <-done:
				if count() >= 10 {
					return
				}
			default:
			}
			got, err := answer(proxyURL)
			mu.Lock()
			sent++
			if err != nil {
				bad = append(bad, err.Error())
			} else if got != "200 release one" && got != "200 release two" {
				bad = append(bad, got)
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	})
	for count() < 3 {
		time.Sleep(time.Millisecond)
	}
	return func() (int, []string) {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return sent, bad
	}
}

// A host's service journals each deploy and rolls a new release out
// behind the proxy without a failed request.
func TestHostDeploysWithoutDowntime(t *testing.T) {
	d := newData(t)
	host, err := releases.Open(d.config())
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	svc := host.Service()
	ctx := context.Background()
	var log bytes.Buffer
	if _, err := svc.Deploy(ctx, request("r1", 1, d.files(t, "one")), &log); err != nil {
		t.Fatalf("deploy r1: %v\n%s", err, log.String())
	}
	if got, err := answer(host.ProxyURL()); err != nil || got != "200 release one" {
		t.Fatalf("after r1: %s %v", got, err)
	}
	stop := hammer(host.ProxyURL())
	res, err := svc.Deploy(ctx, request("r2", 2, d.files(t, "two")), &log)
	sent, bad := stop()
	if err != nil || res.Release != "r2" {
		t.Fatalf("deploy r2: %+v %v\n%s", res, err, log.String())
	}
	if sent < 10 || len(bad) > 0 {
		t.Errorf("%d of %d requests failed during the rollout: %q", len(bad), sent, bad)
	}
	if got, _ := answer(host.ProxyURL()); got != "200 release two" {
		t.Errorf("after r2: %s", got)
	}
	rs, err := svc.Releases(ctx, "prod", "web")
	if err != nil || len(rs) != 2 || rs[0].Status != store.Live || rs[1].Status != store.Superseded || rs[0].Project != "app" {
		t.Errorf("releases: %+v %v", rs, err)
	}
	st := svc.Status()
	if len(st.Services) != 1 || st.Services[0].Release != "r2" || len(st.Services[0].Instances) != 2 {
		t.Errorf("status: %+v", st)
	}
	// The same release again changes nothing.
	again, err := svc.Deploy(ctx, request("r3", 3, d.files(t, "two")), io.Discard)
	if err != nil || !again.Unchanged || again.Release != "r2" {
		t.Errorf("a deploy of what serves: %+v %v", again, err)
	}
}

// One host per data directory: a second fails with ErrHosted until the
// first closes.
func TestOneHostPerDataDirectory(t *testing.T) {
	d := newData(t)
	first, err := releases.Open(d.config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := releases.Open(d.config()); !errors.Is(err, releases.ErrHosted) {
		t.Fatalf("a second host: %v, want ErrHosted", err)
	}
	first.Close()
	second, err := releases.Open(d.config())
	if err != nil {
		t.Fatalf("a host after the first closed: %v", err)
	}
	second.Close()
	cfg := d.config()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg.ProxyAddr = ln.Addr().String()
	if _, err := releases.Open(cfg); !errors.Is(err, releases.ErrInvalid) || !strings.Contains(err.Error(), "--proxy-addr") {
		t.Errorf("a proxy address in use: %v", err)
	}
	// The failed start released the lock.
	if h, err := releases.Open(d.config()); err != nil {
		t.Errorf("a host after a failed start: %v", err)
	} else {
		h.Close()
	}
}

// deploys is how velocity run gets its deployer: through the control
// socket of the data directory's host, else hosting and publishing it.
func deploys(t *testing.T, d *data) *releases.Deploys {
	sock := filepath.Join(d.dir, "velocity.sock")
	return &releases.Deploys{
		Host: d.config(),
		Dial: func(ctx context.Context) (releases.Remote, error) {
			c := server.NewClient(sock)
			if _, err := c.Ping(ctx, time.Second); err != nil {
				c.Close()
				return nil, nil
			}
			return c, nil
		},
		Publish: func(ctx context.Context, h *releases.Host) (string, func(), error) {
			ln, err := net.Listen("unix", sock)
			if err != nil {
				return "", nil, err
			}
			api := &http.Server{Handler: (&server.Server{Releases: h.Service(), Logger: d.log}).Handler()}
			go api.Serve(ln)
			return sock, func() { api.Close(); os.Remove(sock) }, nil
		},
	}
}

func target() releases.DeployTarget {
	return releases.DeployTarget{
		Pipeline: &spec.Pipeline{Name: "app", Services: []spec.Service{service()}, Environments: []spec.Environment{{Name: "prod"}}},
		Commit:   "abc", Picker: &netport.Picker{}, ProxyAddr: "127.0.0.1:0",
	}
}

// The first run hosts; a second run in the same data directory deploys
// through it while requests keep being answered.
func TestSecondRunDeploysThroughTheFirst(t *testing.T) {
	d := newData(t)
	ctx := context.Background()
	first, err := deploys(t, d).ForRun(ctx, target())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if !first.Hosted() {
		t.Fatal("the first run does not host its deploys")
	}
	url, err := first.Deploy(ctx, engine.Deploy{RunID: 1, Service: "web", Environment: "prod", Outputs: d.files(t, "one"), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	proxyURL := "http://127.0.0.1:" + url[strings.LastIndex(url, ":")+1:]
	if got, _ := answer(proxyURL); got != "200 release one" {
		t.Fatalf("after the first run: %s", got)
	}

	second, err := deploys(t, d).ForRun(ctx, target())
	if err != nil {
		t.Fatal(err)
	}
	if second.Hosted() {
		t.Fatal("the second run hosts although the first does")
	}
	stop := hammer(proxyURL)
	var log bytes.Buffer
	_, err = second.Deploy(ctx, engine.Deploy{RunID: 2, Service: "web", Environment: "prod", Outputs: d.files(t, "two"), Log: &log})
	sent, bad := stop()
	if err != nil {
		t.Fatalf("deploy through the first run: %v\n%s", err, log.String())
	}
	second.Close()
	if sent < 10 || len(bad) > 0 {
		t.Errorf("%d of %d requests failed during the deploy: %q", len(bad), sent, bad)
	}
	if got, _ := answer(proxyURL); got != "200 release two" {
		t.Errorf("after the second run: %s", got)
	}
	if urls := second.URLs(); len(urls) != 1 || !strings.HasPrefix(urls[0], "prod/web (release r2): http://web.prod.localhost:") {
		t.Errorf("the second run's URLs: %q", urls)
	}
	if !strings.Contains(log.String(), "prod/web: deploying release r2") {
		t.Errorf("the deploy's progress did not reach the second run:\n%s", log.String())
	}
	first.Close()
	if _, err := os.Stat(filepath.Join(d.dir, "velocity.sock")); !os.IsNotExist(err) {
		t.Errorf("the control socket is left: %v", err)
	}
}

// A release journaled live by a run that no longer hosts it does not
// keep another project from deploying the same service name.
func TestEndedRunOwnsNothing(t *testing.T) {
	d := newData(t)
	ctx := context.Background()
	first, err := deploys(t, d).ForRun(ctx, target())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Deploy(ctx, engine.Deploy{RunID: 1, Service: "web", Environment: "prod", Outputs: d.files(t, "one"), Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	first.Close()
	other := target()
	other.Pipeline.Name = "other"
	second, err := deploys(t, d).ForRun(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if _, err := second.Deploy(ctx, engine.Deploy{RunID: 2, Service: "web", Environment: "prod", Outputs: d.files(t, "two"), Log: io.Discard}); err != nil {
		t.Errorf("a deploy of another project after the hosting run ended: %v", err)
	}
}

// The catalog reads the instance logs of what serves, asking the host.
func TestCatalogFindsInstanceLogs(t *testing.T) {
	d := newData(t)
	host, err := releases.Open(d.config())
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if _, err := host.Service().Deploy(context.Background(), request("r1", 1, d.files(t, "one")), io.Discard); err != nil {
		t.Fatal(err)
	}
	cat := &releases.Catalog{DataDir: d.dir, Journal: d.journal, Runs: d.journal,
		AskHost: func(context.Context) (releases.Status, bool) { return host.Service().Status(), true }}
	release, ids, err := cat.Live(context.Background(), "prod", "web")
	if err != nil || release != "r1" || len(ids) != 2 {
		t.Fatalf("live: %s %v %v", release, ids, err)
	}
	var read []string
	got, shown, hidden, err := cat.ReadLogs(context.Background(), releases.LogRequest{Environment: "prod", Service: "web"},
		func(release, instance string, r io.Reader) error {
			b, err := io.ReadAll(r)
			read = append(read, release+"/"+instance+": "+strings.TrimSpace(string(b)))
			return err
		})
	if err != nil || got != "r1" || shown != 2 || hidden != 0 || len(read) != 2 || !strings.Contains(read[0], "listening") {
		t.Fatalf("read logs: %s %d %d %v\n%s", got, shown, hidden, err, strings.Join(read, "\n"))
	}
	if err := cat.CheckService("prod", "nope", ""); !errors.Is(err, releases.ErrInvalid) {
		t.Errorf("an unknown service: %v", err)
	}
	if err := cat.CheckService("prod", "web", "r9"); !errors.Is(err, releases.ErrInvalid) || !strings.Contains(err.Error(), "no release r9") {
		t.Errorf("an unknown release: %v", err)
	}
}
