package executor

import (
	"fmt"
	"sync"
)

// Steps is a workspace's account of its running steps for Cleanup:
// Begin refuses a step once Close has begun, and Close waits for the
// steps that began. The zero value is open.
type Steps struct {
	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup
}

// Begin counts step name as running, or refuses it after Close; call
// End when it has ended.
func (s *Steps) Begin(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%s: run after the workspace was cleaned up", name)
	}
	s.running.Add(1)
	return nil
}

// End counts a step that began as ended.
func (s *Steps) End() { s.running.Done() }

// Close refuses new steps and waits for the running ones.
func (s *Steps) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.running.Wait()
}
