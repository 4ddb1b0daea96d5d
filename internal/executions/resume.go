package executions

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/proc"
	"github.com/velocity-ci/velocity/internal/store"
)

// orphans lists live executions whose owner process is gone.
func (s *Service) orphans(ctx context.Context) ([]store.Execution, error) {
	live, err := s.st.LiveExecutions(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Execution
	for _, e := range live {
		if !s.isActive(e.ID) && s.orphaned(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// ResumeOrphans runs every execution whose owner process died here until
// they end; resuming, when set, hears of each as it is taken over. It
// returns how many it took over.
func (s *Service) ResumeOrphans(ctx context.Context, resuming func(store.Execution)) (int, error) {
	orphans, err := s.orphans(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range orphans {
		lock, ok := s.adopt(ctx, e)
		if !ok {
			continue
		}
		n++
		if resuming != nil {
			resuming(e)
		}
		s.runInBackground(e, lock, Progress{})
	}
	s.bg.Wait()
	return n, nil
}

// staleLockAge is how long an execution lock file must have existed
// before sweepLocks may remove it: lockfile.Acquire creates the file
// before it locks it, and a file that new is never a leftover.
const staleLockAge = time.Minute

// sweepLocks removes execution lock files that nobody holds and that no
// live execution names: those of executions whose process was killed
// after they ended, or before they were recorded. A live execution's
// lock is left for whoever resumes it.
func (s *Service) sweepLocks(ctx context.Context) {
	paths, err := filepath.Glob(s.lockPath("wf-*"))
	if err != nil || len(paths) == 0 {
		return
	}
	live, err := s.st.LiveExecutions(ctx)
	if err != nil {
		return
	}
	named := make(map[string]bool, len(live))
	for _, e := range live {
		named[e.Lock] = true
	}
	for _, p := range paths {
		if named[p] {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil || time.Since(fi.ModTime()) < staleLockAge {
			continue
		}
		if held, err := lockfile.Held(p); err == nil && !held {
			if err := os.Remove(p); err == nil {
				s.log.Debug("removed a stale workflow lock file", "path", p)
			}
		}
	}
}

// ResumeInBackground starts the resume command (Config.ResumeCommand)
// detached when some execution's owner is gone, so that every use (even
// a listing) gets interrupted executions going again without blocking.
func (s *Service) ResumeInBackground(ctx context.Context) {
	s.sweepLocks(ctx)
	if len(s.resume) == 0 {
		return
	}
	orphans, err := s.orphans(ctx)
	if err != nil || len(orphans) == 0 {
		return
	}
	logPath := filepath.Join(s.dataDir, "logs", "workflow-resume.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer logf.Close()
	p, err := proc.Start(context.WithoutCancel(ctx), proc.Spec{
		Path:   s.resume[0],
		Args:   s.resume[1:],
		Stdout: logf,
		Stderr: logf,
		// Its own session: it outlives this process and its terminal.
		Session: true,
	})
	if err != nil {
		s.log.Warn("could not start the workflow resumer", "err", err)
		return
	}
	go p.Wait()
	s.log.Debug("resuming interrupted workflow executions in the background", "pid", p.Pid(), "count", len(orphans))
}
