package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
)

func (a *app) logsCmd() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs RUN [ACTION]",
		Short: "Print the output of a run's actions",
		Long: `Print the stored output of a run (a number, or 'last'). With ACTION (its name,
or stage/name when several stages have one), print only that action's
attempts, unprefixed; otherwise every action's lines, prefixed [stage/action].
With -f, keep printing new output until the run ends.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			run, err := a.runArg(ctx, h, args[0])
			if err != nil {
				return err
			}
			var only *store.Key
			if len(args) == 2 {
				k, err := a.actionArg(ctx, h, run, args[1])
				if err != nil {
					return err
				}
				only = &k
			}
			return a.printLogs(ctx, h, run, only, follow)
		}), func(ctx context.Context, c *server.Client, args []string) error {
			return a.logsRemote(ctx, c, args, follow)
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing output until the run ends")
	return cmd
}

// actionArg resolves "name" or "stage/name" to one action of the run.
func (a *app) actionArg(ctx context.Context, h *home.Home, run store.Run, arg string) (store.Key, error) {
	actions, err := h.Store.Actions(ctx, run.ID)
	if err != nil {
		return store.Key{}, err
	}
	return actionOf(run.ID, actions, arg)
}

// actionOf resolves "name" or "stage/name" to one of a run's actions.
func actionOf(run int64, actions []store.Action, arg string) (store.Key, error) {
	var matches []store.Key
	var names []string
	for _, act := range actions {
		names = append(names, act.Stage+"/"+act.Name)
		if arg == act.Stage+"/"+act.Name || arg == act.Name {
			matches = append(matches, act.Key())
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return store.Key{}, usageError("run %d has no action %q; its actions: %s", run, arg, strings.Join(names, ", "))
	}
	var amb []string
	for _, m := range matches {
		amb = append(amb, m.Stage+"/"+m.Name)
	}
	return store.Key{}, usageError("%q is ambiguous in run %d: say %s", arg, run, strings.Join(amb, " or "))
}

// logTail tracks how much of one attempt's log has been printed.
type logTail struct {
	att    store.Attempt
	off    int64
	prefix string
	lines  console.LineSplitter
	// headed and judged record that the attempt's header and verdict
	// lines (shown for one action with several attempts) are printed.
	headed, judged bool
}

func (a *app) printLogs(ctx context.Context, h *home.Home, run store.Run, only *store.Key, follow bool) error {
	terminal, _ := a.liveOutput("auto")
	tails := map[string]*logTail{}
	var order []*logTail
	buf := make([]byte, 32*1024)
	for {
		atts, err := h.Store.Attempts(ctx, run.ID)
		if err != nil {
			return err
		}
		for _, at := range atts {
			k := store.Key{Stage: at.Stage, Name: at.Action}
			if only != nil && k != *only {
				continue
			}
			id := fmt.Sprintf("%s/%s#%d", at.Stage, at.Action, at.N)
			t := tails[id]
			if t == nil {
				t = &logTail{att: at}
				// Retries are marked; the first attempt's prefix is the
				// plain one, as in the live output.
				switch {
				case only == nil && at.N > 1:
					t.prefix = fmt.Sprintf("[%s/%s attempt %d] ", at.Stage, at.Action, at.N)
				case only == nil:
					t.prefix = fmt.Sprintf("[%s/%s] ", at.Stage, at.Action)
				}
				tails[id] = t
				order = append(order, t)
			}
			t.att = at
		}
		run, err = h.Store.Run(ctx, run.ID)
		if err != nil {
			return err
		}
		done := run.Status.Final()
		for _, t := range order {
			headers := only != nil && len(order) > 1
			if headers && !t.headed {
				fmt.Fprintf(a.stdout, "--- attempt %d ---\n", t.att.N)
				t.headed = true
			}
			if err := a.copyLog(t, buf, terminal); err != nil {
				return err
			}
			if t.att.Status.Final() || done {
				t.lines.Flush(func(line []byte) { a.emitLine(t, line, terminal) })
			}
			if headers && t.att.Status.Final() && !t.judged {
				t.judged = true
				if t.att.Status != store.Succeeded {
					fmt.Fprintf(a.stdout, "--- attempt %d %s: %s ---\n", t.att.N, t.att.Status, t.att.Reason)
				}
			}
		}
		if !follow || done {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// copyLog prints what was appended to t's file since the last call.
func (a *app) copyLog(t *logTail, buf []byte, terminal bool) error {
	f, err := os.Open(t.att.Log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("log of %s/%s: %w", t.att.Stage, t.att.Action, err)
	}
	defer f.Close()
	for {
		n, err := f.ReadAt(buf, t.off)
		if n > 0 {
			t.off += int64(n)
			if t.prefix == "" && !terminal {
				// Piped and unprefixed: the bytes exactly as the action wrote them.
				if _, werr := a.stdout.Write(buf[:n]); werr != nil {
					return werr
				}
			} else {
				t.lines.Feed(buf[:n], func(line []byte) { a.emitLine(t, line, terminal) })
			}
		}
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("log of %s/%s: %w", t.att.Stage, t.att.Action, err)
		}
	}
}

func (a *app) emitLine(t *logTail, line []byte, terminal bool) {
	if terminal {
		fmt.Fprintf(a.stdout, "%s%s\n", t.prefix, console.Printable(string(line)))
		return
	}
	fmt.Fprintf(a.stdout, "%s%s\n", t.prefix, line)
}
