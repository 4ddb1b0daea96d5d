package store

import (
	"context"
	"time"
)

// ScheduleFires keeps, for each schedule of each project, the due time
// it last fired at, beside the Store in the same implementations and
// checked by the storetest suite (RunScheduleFires). A server that comes
// back after downtime compares it with the schedule to find the fire it
// missed; several servers on one store use it to fire each due time once.
// Methods are safe for concurrent use, also from several processes.
type ScheduleFires interface {
	// RecordFire takes the fire of the schedule named schedule of project
	// due at due, and reports whether it was taken: true when no fire at
	// or after due was recorded (due becomes the last fire), false when
	// one was (a fire of a later or the same due time, by this or another
	// process, and nothing changes). Of several callers recording one due
	// time at once exactly one gets true: that one starts the run. An
	// empty project or schedule, or a zero due, is an error wrapping
	// fault.Invalid.
	RecordFire(ctx context.Context, project, schedule string, due time.Time) (taken bool, err error)
	// LastFire returns the due time the schedule last fired at and true,
	// or false when it never fired (or was forgotten).
	LastFire(ctx context.Context, project, schedule string) (time.Time, bool, error)
	// ForgetFires forgets the fires of every schedule of project, for a
	// project that is removed: one added again under its name starts
	// afresh, with no fire missed. No fires is not an error.
	ForgetFires(ctx context.Context, project string) error
}
