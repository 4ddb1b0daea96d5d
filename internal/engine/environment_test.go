package engine_test

import (
	"slices"
	"testing"

	"github.com/velocity-ci/velocity/internal/engine"
)

func TestHostEnvKeepsOnlyTheAllowlistAndPassthrough(t *testing.T) {
	host := []string{"PATH=/bin", "HOME=/root", "AWS_SECRET_ACCESS_KEY=x", "LC_ALL=C", "MY_TOKEN=t", "NPM_TOKEN=n", "DEBUG=1", "=weird"}
	got := engine.HostEnv(host, []string{"DEBUG", "MY_*"})
	want := []string{"DEBUG=1", "HOME=/root", "LC_ALL=C", "MY_TOKEN=t", "PATH=/bin"}
	if !slices.Equal(got, want) {
		t.Errorf("HostEnv = %q, want %q", got, want)
	}
}
