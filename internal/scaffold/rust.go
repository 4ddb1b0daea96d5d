package scaffold

// rustPlan builds the plan for a Cargo package or workspace: one action
// that builds the crate and runs every test (unit, integration, doc), with
// target/ kept as a dependency cache keyed by Cargo.lock.
//
// Compiled dependencies in target/ are what makes a Rust build slow to
// start from nothing; the registry's sources are in ~/.cargo, which
// actions share with the host through HOME. Build and test are one action
// because parallel cargo commands in one workspace would restore and
// write the same target/ at once (cargo's own lock makes them wait for
// each other anyway).
func rustPlan(dir string) (plan, error) {
	lock, err := anyExists(dir, "Cargo.lock")
	if err != nil {
		return plan{}, err
	}
	p := plan{
		kind:       Rust,
		found:      "Cargo.toml",
		envExample: "RUSTFLAGS: -D warnings",
	}
	run := "cargo test"
	key := "Cargo.toml"
	if lock {
		// --locked fails instead of updating a stale Cargo.lock, which
		// would test other versions than the ones committed.
		run = "cargo test --locked"
		key = "Cargo.lock"
	} else {
		p.notes = append(p.notes,
			"No Cargo.lock is committed: each run resolves the newest matching",
			"versions, and the dependency cache is keyed by Cargo.toml.")
	}
	p.actions = append(p.actions, action{
		name:    "test",
		comment: "Build the library, binaries, tests and examples, and run the unit,\nintegration and documentation tests.",
		run:     run,
		env: map[string]string{
			// Incremental artifacts help an edit-compile loop, not a
			// build from a fresh copy; they would only bloat the cache.
			"CARGO_INCREMENTAL": "0",
		},
		cache:    []string{"target"},
		cacheKey: []string{key},
		cacheComment: "target/ is kept between runs: restored before the action executes " +
			"(the entry saved for this " + key + ", else the newest) and saved after it " +
			"succeeds, so dependencies are compiled again only when " + key + " changes.",
		timeout: testTimeout,
	})
	return p, nil
}
