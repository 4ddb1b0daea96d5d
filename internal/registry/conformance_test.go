package registry_test

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/registry"
)

// TestConformance runs the OCI distribution conformance suite (a
// program built from github.com/opencontainers/distribution-spec/
// conformance, named by OCI_CONFORMANCE) against the handler. See
// docs/registry.md for how to build it; without it the test skips, as
// the suite is not a dependency of the module.
func TestConformance(t *testing.T) {
	bin := os.Getenv("OCI_CONFORMANCE")
	if bin == "" {
		t.Skip("OCI_CONFORMANCE names no conformance program")
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
		"OCI_API_BLOBS_UPLOAD_CANCEL=true",
		"OCI_API_BLOBS_DIGEST_HEADER=true",
		"OCI_API_MANIFESTS_DIGEST_HEADER=true",
		"OCI_API_MANIFESTS_TAG_PARAM=true",
	)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if dir := os.Getenv("OCI_RESULTS_KEEP"); dir != "" {
		exec.Command("cp", "-r", results+"/.", dir).Run()
	}
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
}
