package engine

// workers runs an execution's attempts on goroutines kept from one
// attempt to the next. An attempt's goroutine grows its stack into
// SQLite's deep frames, from 2 KB to 64 KB by doubling, each time copying
// and walking every frame; a new goroutine per attempt paid that for
// every action (~0.05 ms of CPU each on a 2-core machine). A kept
// goroutine keeps its stack until a garbage collection shrinks it.
//
// do may be called from one goroutine at a time (the scheduler's); stop
// ends the idle goroutines once no more work will come, and those still
// busy when their work is done.
type workers struct {
	jobs chan func()
	quit chan struct{}
}

func newWorkers() *workers {
	return &workers{jobs: make(chan func()), quit: make(chan struct{})}
}

// do runs f on an idle worker, or on a new one when none is idle.
func (w *workers) do(f func()) {
	select {
	case w.jobs <- f:
	default:
		go w.loop(f)
	}
}

func (w *workers) loop(f func()) {
	for {
		f()
		select {
		case f = <-w.jobs:
		case <-w.quit:
			return
		}
	}
}

// stop lets every worker end once it is idle.
func (w *workers) stop() { close(w.quit) }
