package executions

import (
	"log/slog"
	"sync"

	"github.com/velocity-ci/velocity/internal/reaper"
)

// lazyReaper starts the crash watchdog with the first command a task
// runs, so that uses that run none (list, describe) start no process.
type lazyReaper struct {
	log  *slog.Logger
	once sync.Once
	mu   sync.Mutex
	r    *reaper.Reaper
}

func (l *lazyReaper) get() *reaper.Reaper {
	l.once.Do(func() {
		r, err := reaper.Start()
		if err != nil {
			// The command still runs; only clean-up after a crash of
			// Velocity is lost.
			l.log.Warn("no crash watchdog for task commands", "err", err)
			return
		}
		l.mu.Lock()
		l.r = r
		l.mu.Unlock()
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r
}

// Add implements task.Reaper.
func (l *lazyReaper) Add(pgid int) {
	if r := l.get(); r != nil {
		r.Add(pgid)
	}
}

// Remove implements task.Reaper.
func (l *lazyReaper) Remove(pgid int) {
	if r := l.get(); r != nil {
		r.Remove(pgid)
	}
}

// AddMarker implements task.Reaper.
func (l *lazyReaper) AddMarker(entry string) error {
	if r := l.get(); r != nil {
		return r.AddMarker(entry)
	}
	return nil
}

// RemoveMarker implements task.Reaper.
func (l *lazyReaper) RemoveMarker(entry string) {
	if r := l.get(); r != nil {
		r.RemoveMarker(entry)
	}
}

func (l *lazyReaper) close() {
	l.mu.Lock()
	r := l.r
	l.mu.Unlock()
	if r != nil {
		r.Close()
	}
}
