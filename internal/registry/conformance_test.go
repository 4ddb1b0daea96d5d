package registry_test

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/registry"
)

// TestConformance runs the OCI distribution conformance suite against
// the handler, with the optional checks on (upload cancel, the digest
// headers, tag parameters). The suite is a tool of the module (go.mod);
// OCI_CONFORMANCE may name a program built from it instead.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite takes a few seconds")
	}
	bin := os.Getenv("OCI_CONFORMANCE")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "conformance")
		build := exec.Command("go", "build", "-o", bin, "github.com/opencontainers/distribution-spec/conformance")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building the conformance suite: %v\n%s", err, out)
		}
	}
	st, err := registry.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&registry.Handler{Storage: st})
	defer srv.Close()
	results := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = results
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+strings.TrimPrefix(srv.URL, "http://"),
		"OCI_TLS=disabled",
		"OCI_REPO1=conformance/repo1",
		"OCI_REPO2=conformance/repo2",
		"OCI_RESULTS_DIR="+results,
		"OCI_LOG=error",
		"OCI_API_BLOBS_UPLOAD_CANCEL=true",
		"OCI_API_BLOBS_DIGEST_HEADER=true",
		"OCI_API_MANIFESTS_DIGEST_HEADER=true",
		"OCI_API_MANIFESTS_TAG_PARAM=true",
	)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OCI Conformance Result: Pass") {
		t.Fatalf("conformance (%v):\n%s", err, out)
	}
	summary := regexp.MustCompile(`(?m)^\s*(Skip|Pass|FAIL|Disabled|Total)\.+:\s+\d+$`).FindAllString(string(out), -1)
	line := regexp.MustCompile(`\.+:\s+`).ReplaceAllString(strings.Join(strings.Fields(strings.Join(summary, " ")), " "), "=")
	t.Logf("OCI conformance: %s", line)
	if !regexp.MustCompile(`(?m)^\s*Skip\.+:\s+0$`).MatchString(string(out)) {
		t.Errorf("checks were skipped:\n%s", out)
	}
}
