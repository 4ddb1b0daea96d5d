package runtime_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/runtime/runtimetest"
)

// TestConformance runs the runtime suite against the process runtime,
// with the suite's server built as a host program.
func TestConformance(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "testserver")
	build := exec.Command("go", "build", "-o", bin, "./runtimetest/testserver")
	build.Stdout, build.Stderr = t.Output(), t.Output()
	if err := build.Run(); err != nil {
		t.Fatalf("build the suite's server: %v", err)
	}
	runtimetest.Run(t, runtimetest.Options{
		New: func(t *testing.T) runtime.Runtime {
			l, err := runtime.NewLocal(runtime.Config{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				if err := l.Close(ctx); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			return l
		},
		Server: func(t *testing.T) runtime.Spec {
			return runtime.Spec{Dir: dir, Command: "exec " + bin}
		},
	})
}
