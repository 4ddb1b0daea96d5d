package runtime

import (
	"context"
	"errors"
	"sync"
)

// Instances is the set of instances a runtime runs now, for its Close:
// Add refuses instances once Close has begun, so that none starts that
// nobody would stop. The zero value is empty. Safe for concurrent use.
type Instances[I interface {
	comparable
	Stop(context.Context) error
}] struct {
	mu     sync.Mutex
	closed bool
	set    map[I]struct{}
}

// Add records i; false once Close has begun.
func (s *Instances[I]) Add(i I) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.set == nil {
		s.set = map[I]struct{}{}
	}
	s.set[i] = struct{}{}
	return true
}

// Remove forgets i, which ended.
func (s *Instances[I]) Remove(i I) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.set, i)
}

// Close refuses new instances and stops every recorded one at once (as
// their Stop(ctx) would), returning their errors.
func (s *Instances[I]) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	list := make([]I, 0, len(s.set))
	for i := range s.set {
		list = append(list, i)
	}
	s.mu.Unlock()
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	for k, i := range list {
		wg.Go(func() { errs[k] = i.Stop(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
