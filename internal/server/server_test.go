package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
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
	dir, err := os.MkdirTemp("", "velocity-server-test")
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

// data is a data directory shared by the servers of one test, as by
// `velocity serve` started twice.
type data struct {
	dir     string
	journal *sqlite.Store
	blobs   *artifact.Blobs
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
	return &data{dir: dir, journal: st, blobs: blobs}
}

// files stores a release of the app answering "release VERSION", made to
// misbehave by a non-empty mode.
func (d *data) files(t *testing.T, version, mode string) []store.Output {
	t.Helper()
	dir := t.TempDir()
	bin, err := os.ReadFile(appBin)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "dist"), 0o755)
	write := func(name string, b []byte, perm os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), b, perm); err != nil {
			t.Fatal(err)
		}
	}
	write("dist/app", bin, 0o755)
	write("dist/version.txt", []byte(version+"\n"), 0o644)
	names := []string{"dist/app", "dist/version.txt"}
	if mode != "" {
		write("dist/mode.txt", []byte(mode+"\n"), 0o644)
		names = append(names, "dist/mode.txt")
	}
	got, err := d.blobs.Collect(dir, names)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Output
	for _, f := range got {
		out = append(out, store.Output{Stage: "build", Action: "package", Path: f.Path, Mode: uint32(f.Mode), Size: f.Size, Digest: f.Digest.String(), Link: f.Link})
	}
	return out
}

// instance is one running server: runtime, proxy, deployer and control
// API on a unix socket, as `velocity serve` wires them.
type instance struct {
	proxyURL string
	client   *server.Client
	server   *server.Server
	host     *releases.Host
	stop     func()
}

func start(t *testing.T, d *data) *instance {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	host, err := releases.Open(releases.HostConfig{
		DataDir: d.dir, Journal: d.journal, Blobs: d.blobs, ProxyAddr: "127.0.0.1:0",
		Environ: []string{"PATH=" + os.Getenv("PATH")}, Logger: logger, Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Releases: host.Service(), Logger: logger}
	sock := filepath.Join(t.TempDir(), "velocity.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewUnstartedServer(srv.Handler())
	api.Listener = ln
	api.Start()
	in := &instance{proxyURL: host.ProxyURL(), client: server.NewClient(sock), server: srv, host: host}
	stopped := false
	in.stop = func() {
		if stopped {
			return
		}
		stopped = true
		in.client.Close()
		api.Close()
		host.Close()
	}
	t.Cleanup(in.stop)
	return in
}

func definition() server.Definition {
	return server.Definition{
		Service: spec.Service{
			Name: "web", Run: "exec ./dist/app", Replicas: 1,
			Health:   spec.Health{HTTP: "/healthz", Interval: 200 * time.Millisecond, Timeout: time.Second, Healthy: 1, Unhealthy: 2},
			Strategy: spec.Strategy{Type: "rolling"},
			Drain:    time.Second, Deadline: 5 * time.Second,
		},
		Environment: spec.Environment{Name: "prod"},
	}
}

func (in *instance) deploy(t *testing.T, release string, run int64, files []store.Output) (server.DeployResult, string, error) {
	t.Helper()
	var log bytes.Buffer
	res, err := in.client.Deploy(context.Background(), server.DeployRequest{
		Definition: definition(), Release: release, RunID: run, Commit: "c" + release, Files: files,
	}, &log)
	return res, log.String(), err
}

func (in *instance) answer(t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequest("GET", in.proxyURL+"/", nil)
	req.Host = "web.prod.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
}

func statuses(t *testing.T, c *server.Client) string {
	t.Helper()
	rs, err := c.Releases(context.Background(), "prod", "web")
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, r := range rs {
		parts = append(parts, r.Release+":"+string(r.Status))
	}
	return strings.Join(parts, " ")
}

func TestDeployReleasesAndRollback(t *testing.T) {
	d := newData(t)
	in := start(t, d)
	v1, v2 := d.files(t, "one", ""), d.files(t, "two", "")
	res, log, err := in.deploy(t, "r1", 1, v1)
	if err != nil {
		t.Fatalf("deploy r1: %v", err)
	}
	if !strings.Contains(log, "release r1 serves at") || res.Release != "r1" || !strings.HasPrefix(res.URL, "http://web.prod.localhost:") {
		t.Errorf("deploy r1: %+v, log:\n%s", res, log)
	}
	if got := in.answer(t); got != "200 release one" {
		t.Fatalf("after r1: %s", got)
	}
	if _, _, err := in.deploy(t, "r2", 2, v2); err != nil {
		t.Fatalf("deploy r2: %v", err)
	}
	if got := in.answer(t); got != "200 release two" {
		t.Fatalf("after r2: %s", got)
	}
	if got := statuses(t, in.client); got != "r2:live r1:superseded" {
		t.Errorf("releases after two deploys: %s", got)
	}

	var log2 bytes.Buffer
	res, err = in.client.Rollback(context.Background(), server.RollbackRequest{Environment: "prod", Service: "web"}, &log2)
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if res.Release != "r1" || !strings.Contains(log2.String(), "rolling back to release r1") {
		t.Errorf("rollback: %+v\n%s", res, log2.String())
	}
	if got := in.answer(t); got != "200 release one" {
		t.Errorf("after the rollback: %s", got)
	}
	if got := statuses(t, in.client); got != "r1:live r2:rolled-back r1:superseded" {
		t.Errorf("releases after the rollback: %s", got)
	}
	rs, _ := in.client.Releases(context.Background(), "prod", "web")
	if !rs[0].Rollback || rs[0].Reason != "rollback from r2" || rs[0].Commit != "cr1" || rs[0].RunID != 1 {
		t.Errorf("the rollback's record: %+v", rs[0])
	}

	// Nothing served before r1; the named release must exist and not be live.
	for _, c := range []struct {
		to   string
		want error
		msg  string
	}{
		{"", server.ErrConflict, "no release before r1"},
		{"r1", server.ErrConflict, "already serves"},
		{"r9", store.ErrNotFound, "no release r9"},
	} {
		_, err := in.client.Rollback(context.Background(), server.RollbackRequest{Environment: "prod", Service: "web", To: c.to}, nil)
		if !errors.Is(err, c.want) || !strings.Contains(fmt.Sprint(err), c.msg) {
			t.Errorf("rollback --to %q: %v, want %v with %q", c.to, err, c.want, c.msg)
		}
	}
	if _, err := in.client.Rollback(context.Background(), server.RollbackRequest{Environment: "prod", Service: "nope"}, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rollback of an unknown service: %v", err)
	}
	// Forward again by name.
	if _, err := in.client.Rollback(context.Background(), server.RollbackRequest{Environment: "prod", Service: "web", To: "r2"}, nil); err != nil {
		t.Fatalf("rollback --to r2: %v", err)
	}
	if got := in.answer(t); got != "200 release two" {
		t.Errorf("after rollback --to r2: %s", got)
	}

	st, err := in.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Services) != 1 || st.Services[0].Release != "r2" || len(st.Services[0].Instances) != 1 ||
		st.Services[0].Instances[0].Health != "healthy" {
		t.Errorf("status %+v", st)
	}
}

func TestFailedDeployIsJournaledAndOldReleaseServes(t *testing.T) {
	d := newData(t)
	in := start(t, d)
	if _, _, err := in.deploy(t, "r1", 1, d.files(t, "one", "")); err != nil {
		t.Fatal(err)
	}
	_, _, err := in.deploy(t, "r2", 2, d.files(t, "two", "crash"))
	if err == nil || !strings.Contains(err.Error(), "fatal: bad config") {
		t.Fatalf("a crashing release: %v, want its own log line", err)
	}
	if got := in.answer(t); got != "200 release one" {
		t.Errorf("while r2 failed: %s", got)
	}
	rs, _ := in.client.Releases(context.Background(), "prod", "web")
	if len(rs) != 2 || rs[0].Status != store.DeployFailed || rs[0].Reason == "" || rs[1].Status != store.Live {
		t.Errorf("releases %+v", rs)
	}
}

func TestBadRequests(t *testing.T) {
	d := newData(t)
	in := start(t, d)
	def := definition()
	def.Service.Secrets = []string{"API_TOKEN"}
	_, err := in.client.Deploy(context.Background(), server.DeployRequest{Definition: def, Release: "r1", Files: d.files(t, "one", "")}, nil)
	if !errors.Is(err, server.ErrInvalid) || !strings.Contains(err.Error(), "API_TOKEN") {
		t.Errorf("a deploy with a secret the server does not have: %v", err)
	}
	if _, err := in.client.Deploy(context.Background(), server.DeployRequest{Definition: definition(), Release: "r1"}, nil); !errors.Is(err, server.ErrInvalid) {
		t.Errorf("a deploy without files: %v", err)
	}
	if _, err := in.client.Releases(context.Background(), "", "web"); !errors.Is(err, server.ErrInvalid) {
		t.Errorf("releases without an environment: %v", err)
	}
	if rs, _ := in.client.Releases(context.Background(), "prod", "web"); len(rs) != 0 {
		t.Errorf("refused deploys were journaled: %+v", rs)
	}
}

// A server that starts on a journal with a live release brings it back,
// and marks what was deploying when the previous one died interrupted.
func TestRecoverRestoresLiveAndInterruptsDeploying(t *testing.T) {
	d := newData(t)
	first := start(t, d)
	if _, _, err := first.deploy(t, "r1", 1, d.files(t, "one", "")); err != nil {
		t.Fatal(err)
	}
	first.stop()
	// What a server killed in the middle of a deploy leaves behind.
	stuck, err := d.journal.CreateDeployment(context.Background(), store.Deployment{
		Environment: "prod", Service: "web", Release: "r2", RunID: 2, Status: store.Deploying,
		Definition: []byte("{}"), Created: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}

	second := start(t, d)
	rec, err := second.host.Service().Recover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Interrupted) != 1 || rec.Interrupted[0].ID != stuck || len(rec.Restoring) != 1 {
		t.Fatalf("recovery %+v", rec)
	}
	if failed := rec.Wait(); len(failed) != 0 {
		t.Fatalf("not restored: %v", failed)
	}
	if got := second.answer(t); got != "200 release one" {
		t.Errorf("after the restart: %s", got)
	}
	dep, _ := d.journal.Deployment(context.Background(), stuck)
	if dep.Status != store.DeployInterrupted || !strings.Contains(dep.Reason, "killed or crashed") {
		t.Errorf("the deploy in progress: %+v", dep)
	}
	if got := statuses(t, second.client); got != "r2:interrupted r1:live" {
		t.Errorf("releases after the restart: %s", got)
	}
}

func TestShutdownRequest(t *testing.T) {
	d := newData(t)
	in := start(t, d)
	if err := in.client.Shutdown(context.Background()); !errors.Is(err, server.ErrConflict) {
		t.Errorf("shutdown of a server without a Shutdown hook: %v", err)
	}
	called := make(chan struct{})
	in.server.Shutdown = func() { close(called) }
	if err := in.client.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Error("the Shutdown hook was not called")
	}
}

func TestPingWithoutServer(t *testing.T) {
	c := server.NewClient(filepath.Join(t.TempDir(), "velocity.sock"))
	defer c.Close()
	if _, err := c.Ping(context.Background(), time.Second); !errors.Is(err, server.ErrNoServer) {
		t.Errorf("ping of a missing socket: %v", err)
	}
}

// Rolling back twice goes back two releases instead of toggling between
// the last two.
func TestRollbackTwiceWalksBack(t *testing.T) {
	d := newData(t)
	in := start(t, d)
	for i, v := range []string{"one", "two", "three"} {
		if _, _, err := in.deploy(t, fmt.Sprintf("r%d", i+1), int64(i+1), d.files(t, v, "")); err != nil {
			t.Fatal(err)
		}
	}
	back := server.RollbackRequest{Environment: "prod", Service: "web"}
	for _, want := range []string{"two", "one"} {
		if _, err := in.client.Rollback(context.Background(), back, nil); err != nil {
			t.Fatalf("rollback to %s: %v", want, err)
		}
		if got := in.answer(t); got != "200 release "+want {
			t.Errorf("after a rollback: %s, want release %s", got, want)
		}
	}
	if _, err := in.client.Rollback(context.Background(), back, nil); !errors.Is(err, server.ErrConflict) {
		t.Errorf("a third rollback: %v, want nothing left to roll back to", err)
	}
	if got := statuses(t, in.client); got != "r1:live r2:rolled-back r3:rolled-back r2:superseded r1:superseded" {
		t.Errorf("releases: %s", got)
	}
}

// A service live from one project is not replaced by a deploy of the
// same service name from another, unless that deploy says --replace;
// releases name the project of each deployment.
func TestDeployFromAnotherProjectIsRefused(t *testing.T) {
	d := newData(t)
	in := start(t, d)
	deployAs := func(project, release string, run int64, version string, replace bool) error {
		def := definition()
		def.Project = project
		var log bytes.Buffer
		_, err := in.client.Deploy(context.Background(), server.DeployRequest{
			Definition: def, Release: release, RunID: run, Files: d.files(t, version, ""), Replace: replace,
		}, &log)
		return err
	}
	if err := deployAs("dapp", "r1", 1, "one", false); err != nil {
		t.Fatal(err)
	}
	err := deployAs("other", "r2", 2, "two", false)
	if err == nil {
		t.Fatal("another project's deploy replaced the live service")
	}
	want := "prod/web is live from project dapp (release r1); deploy with --replace to take it over, or rename the service"
	if !strings.Contains(err.Error(), want) || !errors.Is(err, server.ErrConflict) {
		t.Errorf("error %v, want a conflict saying %q", err, want)
	}
	if got := in.answer(t); got != "200 release one" {
		t.Errorf("after the refused deploy: %s", got)
	}
	// The same project deploys as before.
	if err := deployAs("dapp", "r3", 3, "three", false); err != nil {
		t.Fatal(err)
	}
	if err := deployAs("other", "r4", 4, "four", true); err != nil {
		t.Fatalf("deploy with replace: %v", err)
	}
	if got := in.answer(t); got != "200 release four" {
		t.Errorf("after the replacing deploy: %s", got)
	}
	rs, err := in.client.Releases(context.Background(), "prod", "web")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Release+":"+r.Project)
	}
	if s := strings.Join(got, " "); s != "r4:other r3:dapp r1:dapp" {
		t.Errorf("releases with projects: %s, want r4:other r3:dapp r1:dapp", s)
	}
	// Going back from other's first release finds none of its own: dapp's
	// releases are not another program's previous version.
	var log bytes.Buffer
	if _, err := in.client.Rollback(context.Background(), server.RollbackRequest{Environment: "prod", Service: "web"}, &log); err == nil {
		t.Errorf("a rollback of project other went back to project dapp's release:\n%s", log.String())
	}
	if got := in.answer(t); got != "200 release four" {
		t.Errorf("after the refused rollback: %s", got)
	}
}
