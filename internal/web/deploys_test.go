package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// deployment is a site over a real host: a proxy and the deploy tests'
// app (internal/deploy/testdata/app) as the service, deployed from
// files in a real blob store.
type deploySite struct {
	*opsSite
	host  *releases.Host
	blobs *artifact.Blobs
	app   string
}

func newDeploySite(t *testing.T) *deploySite {
	t.Helper()
	d := &deploySite{app: filepath.Join(t.TempDir(), "app")}
	build := exec.Command("go", "build", "-o", d.app, "../deploy/testdata/app")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the test app: %v\n%s", err, out)
	}
	d.opsSite = newOpsSite(t, func(dir string, st *sqlite.Store, s *Site) {
		var err error
		if d.blobs, err = artifact.OpenBlobs(filepath.Join(dir, "blobs")); err != nil {
			t.Fatal(err)
		}
		d.host, err = releases.Open(releases.HostConfig{
			DataDir: dir, Journal: st, Blobs: d.blobs, ProxyAddr: "127.0.0.1:0",
			Environ: []string{"PATH=" + os.Getenv("PATH")}, Logger: s.Log, Version: "test", Name: "velocity serve",
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.host.Close)
		s.Releases = d.host.Service()
		s.Catalog = &releases.Catalog{DataDir: dir, Journal: st, Runs: st}
	})
	return d
}

// deploy deploys release of web to prod, answering "release VERSION",
// from a run that trigger started.
func (d *deploySite) deploy(t *testing.T, release, version, trigger string) {
	t.Helper()
	ctx := context.Background()
	run, err := d.store.CreateRun(ctx, store.Run{Project: "app", Commit: "c0ffee" + version, Status: store.Succeeded,
		Trigger: trigger, Created: time.Now()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, err := os.ReadFile(d.app)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "dist"), 0o755)
	os.WriteFile(filepath.Join(dir, "dist/app"), bin, 0o755)
	os.WriteFile(filepath.Join(dir, "dist/version.txt"), []byte(version+"\n"), 0o644)
	got, err := d.blobs.Collect(dir, []string{"dist/app", "dist/version.txt"})
	if err != nil {
		t.Fatal(err)
	}
	var files []store.Output
	for _, f := range got {
		files = append(files, store.Output{Stage: "build", Action: "package", Path: f.Path, Mode: uint32(f.Mode), Size: f.Size, Digest: f.Digest.String()})
	}
	req := releases.DeployRequest{
		Definition: releases.Definition{Service: spec.Service{
			Name: "web", From: "package", Run: "exec ./dist/app", Replicas: 1,
			Health:   spec.Health{HTTP: "/healthz", Interval: 200 * time.Millisecond, Timeout: time.Second, Healthy: 1, Unhealthy: 2},
			Strategy: spec.Strategy{Type: "rolling"}, Drain: time.Second, Deadline: 10 * time.Second,
		}, Environment: spec.Environment{Name: "prod"}, Project: "app"},
		Release: release, RunID: run, Commit: "c0ffee" + version, Files: files,
	}
	var log strings.Builder
	if _, err := d.site.Releases.Deploy(ctx, req, &log); err != nil {
		t.Fatalf("deploy %s: %v\n%s", release, err, log.String())
	}
}

// answer is what the proxy answers for web in prod.
func (d *deploySite) answer(t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequest("GET", d.host.ProxyURL()+"/", nil)
	req.Host = "web.prod.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// liveRelease is the release td of web's row in prod.
func liveReleaseIn(page string) (string, error) {
	section := strings.Index(page, `<section class="environment" data-environment="prod">`)
	if section < 0 {
		return "", errors.New("no section.environment for prod")
	}
	row := strings.Index(page[section:], `<tr class="service" data-service="web"`)
	if row < 0 {
		return "", errors.New("no tr.service for web in prod")
	}
	rest := page[section+row:]
	const open = `<td class="release">`
	i := strings.Index(rest, open)
	if i < 0 {
		return "", errors.New("no td.release in web's row")
	}
	rest = rest[i+len(open):]
	return rest[:strings.Index(rest, "<")], nil
}

// The deployments page shows what serves, its instance and its history;
// its rollback button puts the release before back, and says so; a
// rollback that cannot be done says why.
func TestDeploymentsShowAndRollBack(t *testing.T) {
	d := newDeploySite(t)
	d.login(t, "developer")
	d.deploy(t, "r1", "one", "push by alice")
	d.deploy(t, "r2", "two", "push by bob")

	code, page := d.get(t, "/deployments")
	if code != http.StatusOK {
		t.Fatalf("/deployments: %d\n%s", code, page)
	}
	if live, err := liveReleaseIn(page); err != nil || live != "r2" {
		t.Fatalf("live release %q, %v; want r2\n%s", live, err, page)
	}
	for _, want := range []string{`<tr class="instance"`, `class="health healthy"`, `data-release="r1"`, "push by bob", "push by alice",
		"c0ffeetwo", `href="/runs/`, `<section class="traffic" data-service="web" data-environment="prod">`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not show %s", want)
		}
	}
	form := opsTag(page, "form", `class="rollback"`)
	if opsAttr(form, "action") != "/deployments/prod/web/rollback" || opsAttr(form, "method") != "post" {
		t.Fatalf("rollback form: %q", form)
	}

	at, code, page := d.post(t, "/deployments", "/deployments/prod/web/rollback", url.Values{"to": {""}})
	if code != http.StatusOK || !strings.HasPrefix(at, "/deployments?") {
		t.Fatalf("rollback ended at %s with %d\n%s", at, code, page)
	}
	if live, err := liveReleaseIn(page); err != nil || live != "r1" {
		t.Errorf("after the rollback the page shows %q, %v; want r1", live, err)
	}
	if !strings.Contains(page, "Rolled back web in prod: release r1 serves.") {
		t.Errorf("the page does not say what the rollback did")
	}
	if got := d.answer(t); got != "release one" {
		t.Errorf("after the rollback the proxy answers %q", got)
	}

	_, code, page = d.post(t, "/deployments", "/deployments/prod/web/rollback", url.Values{"to": {"r9"}})
	if code != http.StatusNotFound || !strings.Contains(page, "no release r9 of web in prod") {
		t.Errorf("a rollback to a release that never was: %d\n%s", code, page)
	}
	if live, _ := liveReleaseIn(page); live != "r1" {
		t.Errorf("a failed rollback changed the live release to %q", live)
	}
}

// Rolling back takes the developer role: a viewer sees no button, and
// its POST is refused.
func TestRollbackNeedsTheDeveloperRole(t *testing.T) {
	d := newDeploySite(t)
	if !d.login(t, "viewer") {
		t.Skip("the site has no login yet: every request is let through")
	}
	d.deploy(t, "r1", "one", "")
	d.deploy(t, "r2", "two", "")
	_, page := d.get(t, "/deployments")
	if opsTag(page, "form", `class="rollback"`) != "" {
		t.Errorf("a viewer is offered the rollback button")
	}
	_, code, _ := d.post(t, "/deployments", "/deployments/prod/web/rollback", url.Values{})
	if code != http.StatusForbidden {
		t.Errorf("a viewer's rollback: %d, want 403", code)
	}
	if got := d.answer(t); got != "release two" {
		t.Errorf("a viewer's rollback changed what serves: %q", got)
	}
}

// With nothing deployed the page says how things get there.
func TestDeploymentsEmpty(t *testing.T) {
	d := newDeploySite(t)
	d.login(t, "viewer")
	code, page := d.get(t, "/deployments")
	if code != http.StatusOK || !strings.Contains(page, "Nothing deployed yet") || strings.Contains(page, `class="environment"`) {
		t.Errorf("/deployments with nothing deployed: %d\n%s", code, page)
	}
}
