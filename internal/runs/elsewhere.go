package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// elsewhere streams run id, which this process does not execute, from
// the journal: first as f (a full replay, with the output the logs here
// hold) has it, then, while the run goes on, the journal alone read again
// every Config.PollElsewhere, each event a read adds sent once, numbered
// in the order sent. A watcher on one node so sees a run another node
// executes go on (its actions' starts and ends, approvals, its end), at
// most that late; the output of its actions is in the executing node's
// logs and comes only from there. What is remembered between reads is
// one key per event of the journal (not per output line), and a read
// opens no log.
func (s *Service) elsewhere(ctx context.Context, id int64, from Cursor, f *feed) <-chan Event {
	out := make(chan Event, 64)
	go func() {
		defer close(out)
		sent := map[string]bool{}
		var seq Cursor
		send := func(e Event) bool {
			seq++
			e.Seq = seq
			if seq <= from {
				return true
			}
			select {
			case out <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for first := true; ; first = false {
			finished := false
			// The n-th identical event of a read is the n-th of the next.
			count := map[string]int{}
			for e := range f.watch(ctx, 0, false) {
				if e.Kind == KindRunFinished {
					finished = true
				}
				if e.Kind == KindOutput || e.Kind == KindMessage {
					// Only the first read has them (output lines and
					// the notes about logs): sent then, never again.
					if first && !send(e) {
						return
					}
					continue
				}
				e.Seq = 0
				b, _ := json.Marshal(e)
				count[string(b)]++
				key := fmt.Sprintf("%s#%d", b, count[string(b)])
				if sent[key] {
					continue
				}
				sent[key] = true
				if !send(e) {
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
			next, err := s.replayFrom(ctx, id, false)
			if err != nil {
				if ctx.Err() == nil {
					send(Event{RunID: id, Time: time.Now(), Kind: KindMessage, Message: &Message{Level: "warning",
						Text: fmt.Sprintf("run %d: the journal could not be read again, the stream stops here: %v", id, err)}})
				}
				return
			}
			f = next
		}
	}()
	return out
}
