package cli

import "github.com/velocity-ci/velocity/internal/home"

// testOptions composes the command line as cmd/velocity does, so that
// tests run the real data directory and services.
func testOptions() Options { return Options{Open: home.Open} }
