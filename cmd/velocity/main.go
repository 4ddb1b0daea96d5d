// Command velocity runs a project's software assembly line. It is the
// composition root: the command line gets the data directory, and the
// services built on it, from package home.
package main

import (
	"context"
	"os"

	"github.com/velocity-ci/velocity/internal/cli"
	"github.com/velocity-ci/velocity/internal/home"
)

func main() {
	o := cli.Options{Open: home.Open}
	os.Exit(cli.Main(context.Background(), o, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
