package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// elsewhere streams run id, which this process does not execute, from
// the journal: first as f (a replay) holds it, then, while the run goes
// on, read again every Config.PollElsewhere, each event that a read adds
// sent once, numbered in the order sent. A watcher on one node so sees a
// run another node executes go on, at most that late; the output of its
// actions is in the executing node's logs and comes only from there.
func (s *Service) elsewhere(ctx context.Context, id int64, from Cursor, f *feed) <-chan Event {
	out := make(chan Event, 64)
	go func() {
		defer close(out)
		sent := map[string]bool{}
		var seq Cursor
		for {
			finished := false
			// The n-th identical event of a read is the n-th of the next.
			count := map[string]int{}
			for e := range f.watch(ctx, 0, false) {
				e.Seq = 0
				b, _ := json.Marshal(e)
				count[string(b)]++
				key := fmt.Sprintf("%s#%d", b, count[string(b)])
				if e.Kind == KindRunFinished {
					finished = true
				}
				if sent[key] {
					continue
				}
				sent[key] = true
				seq++
				e.Seq = seq
				if seq <= from {
					continue
				}
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
			if finished {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.cfg.PollElsewhere):
			}
			next, err := s.replay(ctx, id)
			if err != nil {
				return
			}
			f = next
		}
	}()
	return out
}
