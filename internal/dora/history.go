package dora

import (
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// deploy is one journaled deployment with what the metrics read from the
// history around it.
type deploy struct {
	store.Deployment
	// live is when it went live; zero when it never did.
	live time.Time
	// failed says the deploy is a failed change: it failed (a failed
	// health gate or start), or a rollback came next.
	failed bool
	// failedAt is when the failure began: when a failed deploy was
	// recorded as failed, when a rolled-back one went live.
	failedAt time.Time
	// restored is when the next deploy of the same service went live
	// after a failure; zero while none has.
	restored time.Time
}

// wentLive reports whether a deployment ever served.
func wentLive(d store.Deployment) bool {
	switch d.Status {
	case store.Live, store.Superseded, store.RolledBack:
		return true
	}
	return false
}

// history reads an environment's deployments (oldest first, every
// service) into deploys. The journal keeps for each deployment only its
// latest status change, so the moment one went live is found where the
// store wrote it: a deployment going live replaces the live one in the
// same transaction and at the same instant, so the replaced one's
// Updated is the newer one's live time; the one still live has its own.
// Deploys of one service are serialised (the releases service holds a
// lock per environment and service), so the journal's order is the
// order they went live in.
func history(ds []store.Deployment) []deploy {
	out := make([]deploy, len(ds))
	// lastLive is the index in out of each service's latest deployment
	// that went live.
	lastLive := map[string]int{}
	for i, d := range ds {
		out[i] = deploy{Deployment: d}
		if !wentLive(d) {
			continue
		}
		prev, hasPrev := lastLive[d.Service]
		switch {
		case hasPrev && out[prev].Status != store.Live && !out[prev].Updated.Before(d.Created):
			out[i].live = out[prev].Updated
		case d.Status == store.Live:
			out[i].live = d.Updated
		default:
			// The first deployment of the service, since replaced:
			// when it went live is gone; when it started is the
			// nearest the journal knows.
			out[i].live = d.Created
		}
		lastLive[d.Service] = i
	}
	for i := range out {
		d := &out[i]
		if d.Rollback || !(wentLive(d.Deployment) || d.Status == store.DeployFailed) {
			// A rollback is not a change, and an interrupted deploy
			// says nothing of the change it carried.
			continue
		}
		next := -1
		for j := i + 1; j < len(out); j++ {
			if out[j].Service == d.Service {
				next = j
				break
			}
		}
		// A failed change: its deploy failed, a rollback replaced it,
		// or the next deploy of its service was a rollback (even one
		// that did not work: someone saw the change fail).
		d.failed = d.Status == store.DeployFailed || d.Status == store.RolledBack || next >= 0 && out[next].Rollback
		if !d.failed {
			continue
		}
		// The failure begins when a failed deploy is known to have
		// failed, or when the change rolled back went live; it is
		// restored when the next deploy of the service goes live,
		// rollback or not.
		d.failedAt = d.live
		if d.Status == store.DeployFailed {
			d.failedAt = d.Updated
		}
		for j := i + 1; j < len(out); j++ {
			if out[j].Service == d.Service && !out[j].live.IsZero() {
				d.restored = out[j].live
				break
			}
		}
	}
	return out
}
