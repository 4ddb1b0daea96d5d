// Command velocity runs a project's software assembly line. It is the
// composition root: the command line gets the data directory, and the
// services built on it, from package home.
package main

import (
	// For its effect on the garbage collector, from package
	// initialisation on.
	_ "github.com/velocity-ci/velocity/internal/startheap"

	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"

	"github.com/velocity-ci/velocity/internal/cli"
	"github.com/velocity-ci/velocity/internal/home"
)

func main() {
	o := cli.Options{Open: home.Open}
	stop := profile()
	code := cli.Main(context.Background(), o, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// profile starts what the undocumented VELOCITY_CPUPROFILE and
// VELOCITY_TRACE ask for (a file each, read with go tool pprof and go tool
// trace): the way to see where a command's time goes, on the binary users
// run. The returned function stops and writes them.
func profile() (stop func()) {
	var stops []func()
	if path := os.Getenv("VELOCITY_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err != nil {
			fmt.Fprintf(os.Stderr, "velocity: cpu profile: %v\n", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "velocity: cpu profile: %v\n", err)
			f.Close()
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if path := os.Getenv("VELOCITY_TRACE"); path != "" {
		if f, err := os.Create(path); err != nil {
			fmt.Fprintf(os.Stderr, "velocity: trace: %v\n", err)
		} else if err := trace.Start(f); err != nil {
			fmt.Fprintf(os.Stderr, "velocity: trace: %v\n", err)
			f.Close()
		} else {
			stops = append(stops, func() { trace.Stop(); f.Close() })
		}
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
