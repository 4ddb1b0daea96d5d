package local_test

import (
	"context"
	"testing"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/executortest"
	"github.com/velocity-ci/velocity/internal/executor/local"
)

func TestConformance(t *testing.T) {
	executortest.Run(t, func(t *testing.T) executor.Executor {
		e, err := local.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	})
}

// BenchmarkRun is the executor's cost of one step that starts nothing
// else: compare with and without the leftover scan (git stash).
func BenchmarkRun(b *testing.B) {
	e, err := local.New()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	dir := b.TempDir()
	for b.Loop() {
		res, err := e.Run(context.Background(), executor.Step{Name: "bench", Script: "true", Dir: dir})
		if err != nil || res.ExitCode != 0 {
			b.Fatal(err, res)
		}
	}
}
