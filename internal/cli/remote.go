package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
)

// The environment that points the command line at a remote velocity
// serve instead of the local data directory.
const (
	envServer = "VELOCITY_SERVER"
	envToken  = "VELOCITY_TOKEN"
)

// localCommand says whether the top-level command name works on the
// local data directory even when VELOCITY_SERVER is set: it is the
// server's own (serve), manages it on its machine (token, registry), or
// goes to the server by itself (project).
func localCommand(name string) bool {
	switch name {
	case "serve", "token", "project", "registry":
		return true
	}
	return false
}

// remote returns a client of the server VELOCITY_SERVER names, with the
// token of VELOCITY_TOKEN; nil when VELOCITY_SERVER is not set.
func (a *app) remote() (*server.Client, error) {
	base := a.getenv(envServer)
	if base == "" {
		return nil, nil
	}
	token := a.getenv(envToken)
	if token == "" {
		return nil, usageError("%s is set (%s) but %s is not: set it to a token of that server (made with 'velocity token create NAME --role developer' on the server machine)", envServer, base, envToken)
	}
	c, err := server.NewRemoteClient(base, token)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envServer, err)
	}
	return c, nil
}

// orRemote is a command that works on the local data directory (local),
// or, when VELOCITY_SERVER is set, on that server through its API
// (remote).
func (a *app) orRemote(local func(*cobra.Command, []string) error, remote func(ctx context.Context, c *server.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := a.remote()
		if err != nil {
			return err
		}
		if c == nil {
			return local(cmd, args)
		}
		defer c.Close()
		return a.remoteError(remote(cmd.Context(), c, args))
	}
}

// notRemote refuses a command that would open the local data directory
// while VELOCITY_SERVER says the user means a server: it does not work
// remotely yet, and quietly showing local state instead would mislead.
func (a *app) notRemote() error {
	base := a.getenv(envServer)
	if base == "" || a.command == nil {
		return nil
	}
	name := a.command.Name()
	for c := a.command; c.HasParent() && c.Parent().HasParent(); c = c.Parent() {
		name = c.Parent().Name()
	}
	if localCommand(name) {
		return nil
	}
	return usageError("'velocity %s' does not work with a remote server yet, and %s is set (%s): unset %s to use it on this machine's data directory", name, envServer, base, envServer)
}

// remoteError puts a failure to talk to VELOCITY_SERVER in the user's
// terms: which setting to check. The token is never part of it.
func (a *app) remoteError(err error) error {
	var se *server.Error
	var ue *url.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se) && se.Code == http.StatusUnauthorized:
		return fault.Unauthorisedf("the server refused the token (%s): %s", envToken, se.Message)
	case errors.As(err, &se) && se.Code == http.StatusTooManyRequests:
		return fault.Unavailablef("the server at %s: %s", a.getenv(envServer), se.Message)
	case errors.As(err, &ue):
		return fault.Unavailablef("cannot reach the server %s=%s: %v", envServer, a.getenv(envServer), ue.Err)
	}
	return err
}

// remoteRun resolves a RUN argument on the server: a number, or "last"
// ("") for its newest run.
func (a *app) remoteRun(ctx context.Context, c *server.Client, ref string) (store.Run, error) {
	base := a.getenv(envServer)
	if ref == "" || ref == "last" {
		list, err := c.ListRuns(ctx, "", 1)
		if err != nil {
			return store.Run{}, err
		}
		if len(list) == 0 {
			return store.Run{}, usageError("no runs yet on %s", base)
		}
		return list[0], nil
	}
	var id int64
	if _, err := fmt.Sscan(strings.TrimPrefix(ref, "#"), &id); err != nil || id <= 0 {
		return store.Run{}, usageError("%q is not a run number (see 'velocity runs')", ref)
	}
	d, err := c.ShowRun(ctx, id)
	if errors.Is(err, fault.NotFound) {
		return store.Run{}, usageError("run %d not found on %s (see 'velocity runs')", id, base)
	}
	return d.Run, err
}

// remoteJournal reads what the server's journal holds about a run, for
// following it from another machine.
type remoteJournal struct{ client *server.Client }

func (j remoteJournal) Show(ctx context.Context, id int64) (runs.Details, error) {
	return j.client.ShowRun(ctx, id)
}

// Wait returns how the run ended; a run still going on is a conflict,
// as the runs service's Wait says of a run it does not execute.
func (j remoteJournal) Wait(ctx context.Context, id int64) (runs.Result, error) {
	d, err := j.client.ShowRun(ctx, id)
	if err != nil {
		return runs.Result{}, err
	}
	if !d.Run.Status.Final() {
		return runs.Result{}, fmt.Errorf("run %d: %w", id, runs.ErrNotRunning)
	}
	return runs.Result{Run: d.Run}, nil
}
