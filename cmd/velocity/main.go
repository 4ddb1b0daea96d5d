// Command velocity runs a project's software assembly line.
package main

import (
	"context"
	"os"

	"github.com/velocity-ci/velocity/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
