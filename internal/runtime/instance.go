package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/proc"
)

// instance implements Instance. The supervisor goroutine (supervisor.go)
// owns the processes; the methods here only read its published state or
// ask it to stop.
type instance struct {
	l    *Local
	spec Spec
	id   string
	port int
	// pickedPort: the runtime picked port and hands it back when the
	// instance is gone.
	pickedPort bool
	addr       string
	env        []string
	grace      time.Duration
	policy     RestartPolicy
	log        *instanceLog
	logger     *slog.Logger
	cgroup     *cgroup // nil without limits
	// marker finds the instance's processes that left its group; used by
	// the supervisor goroutine only.
	marker *proc.Marker

	mu       sync.Mutex
	state    State
	restarts int
	pid      int
	exits    int
	lastExit string

	stopOnce sync.Once
	stopReq  chan struct{} // closed by Stop
	killOnce sync.Once
	killNow  chan struct{} // closed when Stop's context ends before the grace period
	exited   chan struct{} // closed when nothing of the instance is left
}

var _ Instance = (*instance)(nil)

func newInstance(l *Local, s Spec, id string, port int, log *instanceLog, logger *slog.Logger) *instance {
	grace := s.StopGrace
	if grace <= 0 {
		grace = DefaultStopGrace
	}
	return &instance{
		l:       l,
		spec:    s,
		id:      id,
		port:    port,
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		env:     InstanceEnv(s.Env, port, id),
		marker:  proc.MarkerFor(markerVar + "=" + id),
		grace:   grace,
		policy:  s.Restart.withDefaults(),
		log:     log,
		logger:  logger,
		state:   StateStarting,
		stopReq: make(chan struct{}),
		killNow: make(chan struct{}),
		exited:  make(chan struct{}),
	}
}

func (i *instance) ID() string              { return i.id }
func (i *instance) Addr() string            { return i.addr }
func (i *instance) Exited() <-chan struct{} { return i.exited }

func (i *instance) State() State {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.state
}

func (i *instance) Restarts() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.restarts
}

// Pid is the pid (and process group id) of the current process, 0 while
// there is none. It is not part of Instance: only host processes have one.
func (i *instance) Pid() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.pid
}

func (i *instance) LastLines(n int) []string { return i.log.lastLines(n) }

func (i *instance) Stop(ctx context.Context) error {
	i.stopOnce.Do(func() { close(i.stopReq) })
	select {
	case <-i.exited:
		return nil
	case <-ctx.Done():
	}
	// The caller cannot wait any longer: cut the grace period short, but
	// still return only when nothing is left running.
	i.killOnce.Do(func() { close(i.killNow) })
	<-i.exited
	return fmt.Errorf("stop %s: grace period cut short: %w", i.id, ctx.Err())
}

func (i *instance) setState(s State, pid int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.state, i.pid = s, pid
}

// running publishes a freshly spawned process.
func (i *instance) running(p *instanceProc, restarted bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.state, i.pid = StateRunning, p.pid
	if restarted {
		i.restarts++
	}
}

// finish releases what the instance holds and closes Exited. It runs once,
// when the supervisor ends or when Start fails.
func (i *instance) finish(final State) {
	if i.cgroup != nil {
		if err := i.cgroup.remove(); err != nil {
			i.logger.Warn("cgroup left behind", "err", err)
		}
	}
	if final == StateStopped {
		i.log.note(fmt.Sprintf("instance %s stopped", i.id))
	}
	if err := i.log.close(); err != nil {
		i.logger.Warn("instance log", "err", err)
	}
	i.setState(final, 0)
	if i.pickedPort {
		i.l.ports.Release(i.port)
	}
	close(i.exited)
	i.l.instances.Remove(i)
}

func (i *instance) Exits() (int, string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.exits, i.lastExit
}

// exitedAlone records an end of the program that Stop did not ask for.
func (i *instance) exitedAlone(how string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.exits++
	i.lastExit = how
}

func (i *instance) Logs(ctx context.Context, tail int) (io.ReadCloser, error) {
	return i.log.follow(ctx, tail), nil
}
