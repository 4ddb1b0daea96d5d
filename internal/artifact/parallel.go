package artifact

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// workers is how many files are hashed, stored or restored at once. Small
// files are bound by per-file syscalls and large ones by hashing, so a few
// more workers than CPUs keep both busy; more than 16 only contend for the
// disk.
func workers() int {
	return min(max(runtime.GOMAXPROCS(0), 4), 16)
}

// forEach calls the function that each worker gets from newWorker with
// every index in [0, n), on a pool of workers, and returns the first
// error; after an error no new index is started. newWorker runs once per
// worker, so that state such as buffers can be reused without locks.
func forEach(n int, newWorker func() func(i int) error) error {
	var (
		next   atomic.Int64
		failed atomic.Bool
		once   sync.Once
		first  error
		wg     sync.WaitGroup
	)
	for range min(workers(), n) {
		wg.Go(func() {
			do := newWorker()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return first
}
