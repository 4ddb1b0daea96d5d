// Package startheap lets a velocity process's heap grow to a few tens of
// megabytes before the garbage collector first runs, then leaves the
// collector to its defaults.
//
// A command such as velocity run lives for a few hundred milliseconds and
// keeps 2-3 MB live, most of it the tables its dependencies build when
// they initialise; with the default GOGC=100 the collector started at
// 4 MB, ran during package initialisation and two or three times more
// in a run of 50 actions, marking the same tables each time: about a
// tenth of the process's CPU. Collecting later trades up to Size of
// memory, once, for that time. The Go compiler does the same for its
// own start.
//
// Imported for its effect by package main. Packages are initialised in
// the order of their import paths once their imports are, and this one
// imports only the runtime and os: it comes before much of the
// initialisation it is meant for (in velocity version, after 2 of the
// 3.2 MB that initialisation allocates).
package startheap

import (
	"os"
	"runtime"
	"runtime/debug"
)

// Size is the memory, in bytes, at which the first collection happens:
// more than a run of a few hundred actions allocates (none collects),
// little enough that a command whose garbage reaches it (velocity run
// printing 100 MB of output) peaks at 55 MB rather than 50.
const Size = 32 << 20

func init() {
	// The user's own settings win.
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	// No collection by GOGC; the memory limit forces the first when the
	// process's memory reaches Size.
	percent := debug.SetGCPercent(-1)
	limit := debug.SetMemoryLimit(Size)
	// After the first collection, the defaults again: a cleanup runs once
	// its object is found unreachable, which only a collection does. The
	// object holds a pointer, so it is never batched with others by the
	// allocator (which would delay its cleanup).
	sentinel := new(*int)
	runtime.AddCleanup(sentinel, func(struct{}) {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}, struct{}{})
}
