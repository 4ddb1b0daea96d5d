// Package cli is the velocity command tree: one file per subcommand, each
// reading its flags, calling a service and rendering what it returns. The
// services come from the data directory cmd/velocity's opener builds.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/home"
)

// Exit codes, the contract scripts rely on.
const (
	ExitOK          = 0
	ExitFailed      = 1   // the pipeline ran and failed
	ExitUsage       = 2   // bad definition, flag or argument
	ExitInterrupted = 130 // stopped by Ctrl-C (128 + SIGINT)
)

// exitError carries an exit code through cobra. A nil err means the
// message was already printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a mistake of the user's: an error of kind fault.Invalid,
// which exits 2.
func usageError(format string, args ...any) error {
	return fault.Invalidf(format, args...)
}

// Options is what the composition root, cmd/velocity, hands the command
// line.
type Options struct {
	// Open opens a data directory and builds the services on it
	// (home.Open).
	Open func(ctx context.Context, cfg home.Config) (*home.Home, error)
}

// app holds what every subcommand shares; it lives for one Main call.
type app struct {
	open    func(ctx context.Context, cfg home.Config) (*home.Home, error)
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	getenv  func(string) string
	environ func() []string
	dir     string // -C
	dataDir string // --data-dir
	store   string // serve --store
	shared  string // serve --shared-dir
	// kubeNamespace and kubeconfig are serve --kube-namespace and
	// --kubeconfig.
	kubeNamespace, kubeconfig string
	// leaseTTL is serve --lease-ttl.
	leaseTTL time.Duration
	log      *slog.Logger
	// started is set once a command's arguments were accepted; errors
	// before that are usage errors.
	started bool
	// command is the command running, once started.
	command *cobra.Command
}

// Main runs the velocity command line over the data directories o opens
// and returns the process exit code.
func Main(ctx context.Context, o Options, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{
		open:    o.Open,
		stdin:   stdin,
		stdout:  stdout,
		stderr:  stderr,
		getenv:  os.Getenv,
		environ: os.Environ,
	}
	level := slog.LevelWarn
	if a.getenv("VELOCITY_DEBUG") != "" {
		level = slog.LevelDebug
	}
	a.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	root := a.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err, a.started)
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintf(stderr, "velocity: %v\n", ee.err)
		}
	default:
		fmt.Fprintf(stderr, "velocity: %v\n", err)
		if !a.started && fault.KindOf(err) == nil {
			fmt.Fprintf(stderr, "Run 'velocity --help' for usage.\n")
		}
	}
	return code
}

// exitCode is the one place errors become exit codes. An exitError says
// its own (the run failed, was interrupted, or a message was printed
// already); otherwise the error's kind decides: an invalid request is a
// usage mistake, every other kind a failure. Errors before any command
// started are cobra's own (unknown command or flag, wrong argument
// count): usage mistakes too.
func exitCode(err error, started bool) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	switch fault.KindOf(err) {
	case fault.Invalid:
		return ExitUsage
	case fault.NotFound, fault.Conflict, fault.Unauthorised, fault.Forbidden, fault.Unavailable:
		return ExitFailed
	}
	if !started {
		return ExitUsage
	}
	return ExitFailed
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "velocity",
		Short: "Velocity runs your software assembly line: build, test, package, deploy",
		Long: `Velocity runs a project's assembly line, defined in velocity.yml at its root:
stages of actions that build, test, check and package the code, locally with
'velocity run' exactly as a server would.

With VELOCITY_SERVER set to the URL of a velocity serve --listen and
VELOCITY_TOKEN to a token of it, 'velocity runs', 'show', 'logs', 'watch',
'approve', 'cancel', 'rerun', 'project' and 'metrics dora' work on that
server instead of the local data directory; the commands that do not work
remotely yet say so.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			a.started = true
			a.command = cmd
		},
	}
	root.PersistentFlags().StringVarP(&a.dir, "directory", "C", ".", "run as if velocity was started in `DIR`")
	root.PersistentFlags().StringVar(&a.dataDir, "data-dir", "", "where runs, logs and the journal are kept (default $VELOCITY_HOME, else ~/.local/share/velocity)")
	root.AddCommand(
		a.runCmd(),
		a.rerunCmd(),
		a.approveCmd(),
		a.cancelCmd(),
		a.validateCmd(),
		a.runsCmd(),
		a.nodesCmd(),
		a.showCmd(),
		a.watchCmd(),
		a.logsCmd(),
		a.explainCmd(),
		a.artifactsCmd(),
		a.releasesCmd(),
		a.serviceCmd(),
		a.serveCmd(),
		a.rollbackCmd(),
		a.workflowCmd(),
		a.secretCmd(),
		a.tokenCmd(),
		a.registryCmd(),
		a.projectCmd(),
		a.schedulesCmd(),
		a.metricsCmd(),
		a.workspacesCmd(),
		a.initCmd(),
		a.versionCmd(),
	)
	return root
}
