package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// BenchmarkAttemptJournal journals the attempts of a chain of actions:
// each op ends one attempt and starts the next, as two commits
// (FinishAttempt, StartAttempt) or one (RecordAttempts). cpu-us/op is
// the process's CPU time per op, the figure to compare on a busy machine.
func BenchmarkAttemptJournal(b *testing.B) {
	for _, mode := range []string{"two", "one"} {
		b.Run(mode, func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "velocity.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			acts := make([]store.Action, 0, 1000)
			for i := range 1000 {
				acts = append(acts, store.Action{Stage: "s", Name: fmt.Sprint("a", i), Kind: "run"})
			}
			var runID int64
			i := 1000
			var prev *store.Attempt
			var ru0 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			for b.Loop() {
				if i == 1000 {
					if prev != nil {
						if err := s.FinishAttempt(ctx, *prev, true, false); err != nil {
							b.Fatal(err)
						}
						prev = nil
					}
					runID, err = s.CreateRun(ctx, store.Run{Project: "p", Status: store.Running, Created: time.Now()}, acts)
					if err != nil {
						b.Fatal(err)
					}
					i = 0
				}
				a := store.Attempt{RunID: runID, Stage: "s", Action: fmt.Sprint("a", i), N: 1, Status: store.Running, Log: "/x/y.log", Started: time.Now()}
				i++
				switch {
				case prev == nil:
					err = s.StartAttempt(ctx, a)
				case mode == "two":
					if err = s.FinishAttempt(ctx, *prev, true, false); err == nil {
						err = s.StartAttempt(ctx, a)
					}
				default:
					err = s.RecordAttempts(ctx, []store.AttemptEnd{{Attempt: *prev, Final: true}}, &a)
				}
				if err != nil {
					b.Fatal(err)
				}
				a.Status, a.Finished = store.Succeeded, time.Now()
				prev = &a
			}
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			cpu := time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) - time.Duration(ru0.Utime.Nano()+ru0.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
		})
	}
}
