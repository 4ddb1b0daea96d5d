package pods

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/secret"
)

// follower copies a pod's log into the instance log through a masker:
// followed while the container runs, and what the stream missed read
// without following once it ended.
type follower struct {
	c       *kube.Client
	ns, pod string
	out     *secret.Masker

	once    sync.Once
	cancel  context.CancelFunc
	done    chan struct{}
	written int64
	failed  bool // the stream could not be opened, or was cut
}

// start starts following; the container must run or have ended.
func (f *follower) start(ctx context.Context) {
	f.once.Do(func() {
		ctx, f.cancel = context.WithCancel(ctx)
		f.done = make(chan struct{})
		go func() {
			defer close(f.done)
			body, err := f.c.Logs(ctx, f.ns, f.pod, containerName)
			if err != nil {
				f.failed = true
				return
			}
			defer body.Close()
			f.written, _ = io.Copy(f.out, body)
		}()
	})
}

// finish waits briefly for the stream to end; when it does not, it cuts
// it and copies what it missed from the log as it is, while the pod is
// still there. Then it flushes the masker: the run's output has ended.
func (f *follower) finish() {
	defer func() { _ = f.out.Flush() }()
	f.once.Do(func() {}) // a run that never started has nothing to read
	if f.done == nil {
		return
	}
	select {
	case <-f.done:
	case <-time.After(logSettle):
		f.cancel()
		<-f.done
		f.failed = true
	}
	if !f.failed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body, err := f.c.LogsSoFar(ctx, f.ns, f.pod, containerName)
	if err != nil {
		return
	}
	defer body.Close()
	if _, err := io.CopyN(io.Discard, body, f.written); err != nil {
		return
	}
	_, _ = io.Copy(f.out, body)
}
