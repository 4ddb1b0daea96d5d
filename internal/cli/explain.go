package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/explain"
	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/store"
)

func (a *app) explainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "explain RUN ACTION",
		Short: "Say why an action of a run missed the result cache",
		Long: `Say why an action of a run executed instead of coming from the result cache:
which input files, variables, script lines, upstream outputs, secrets,
sidecars or Velocity version changed since the last run in which the action
succeeded. RUN is a run number or 'last'; ACTION is stage/action, or just
the action's name when no other stage has one of that name.

Values of host variables and secrets are never shown, only their names.`,
		Args: cobra.ExactArgs(2),
		RunE: a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			run, err := a.runArg(ctx, h, args[0])
			if err != nil {
				return err
			}
			k, err := a.actionArg(ctx, h, run, args[1])
			if err != nil {
				return err
			}
			svc, err := h.RunsArchive()
			if err != nil {
				return err
			}
			e, err := svc.Explain(ctx, run, k)
			if err != nil {
				return err
			}
			writeExplanation(a.stdout, e)
			return nil
		}),
	}
}

// writeExplanation prints e: a headline, then one line per change.
func writeExplanation(w io.Writer, e explain.Explanation) {
	id := fmt.Sprintf("%s/%s", e.Action.Stage, e.Action.Name)
	head := fmt.Sprintf("run %d %s", e.Run, id)
	switch {
	case e.Status == store.Cached:
		fmt.Fprintf(w, "%s: cache hit from run %d\n", head, e.CachedFrom)
		return
	case e.Uncached == explain.NoCacheFlag:
		fmt.Fprintf(w, "%s: executed without the result cache (the run was started with --no-cache)\n", head)
		return
	case e.Uncached == explain.CacheFalse:
		fmt.Fprintf(w, "%s: executed without the result cache (the action says cache: false)\n", head)
		return
	case e.NoRecord:
		fmt.Fprintf(w, "%s: %s; no cache key was recorded (it did not run, is a deploy, or an older Velocity ran it)\n", head, e.Status)
		return
	case e.Previous == 0:
		fmt.Fprintf(w, "%s: cache miss: no earlier result (the action never succeeded before this run)\n", head)
		return
	case e.SameKey:
		fmt.Fprintf(w, "%s: cache miss: the key is the same as in run %d, but that result was no longer in the cache (evicted or unusable)\n", head, e.Previous)
		return
	case e.PreviousNoRecord:
		fmt.Fprintf(w, "%s: cache miss: run %d, the last success, recorded no key details to compare with (an older Velocity ran it)\n", head, e.Previous)
		return
	}
	fmt.Fprintf(w, "%s: cache miss: changed since run %d, the last run in which it succeeded:\n", head, e.Previous)
	if len(e.Changes) == 0 {
		fmt.Fprintln(w, "  the key differs, but no recorded part does")
	}
	for _, ch := range e.Changes {
		fmt.Fprintf(w, "  %s\n", changeLine(ch))
		if ch.What == "script" && ch.Detail != "" {
			for _, l := range strings.Split(ch.Detail, "\n") {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
}

// changeLine words one change for velocity explain.
func changeLine(ch explain.Change) string {
	switch ch.What {
	case "input":
		if ch.Name == "" {
			return "input files changed (" + ch.Detail + ")"
		}
		return fmt.Sprintf("input %s %s", ch.Name, ch.How)
	case "inputs":
		return "inputs: changed from " + ch.Detail
	case "env":
		s := fmt.Sprintf("env %s %s", ch.Name, ch.How)
		if ch.Detail != "" {
			s += ": " + ch.Detail
		}
		return s
	case "script":
		if ch.Detail == "" {
			return "script changed"
		}
		return "script changed:"
	case "upstream":
		switch {
		case ch.Name == "":
			return ch.Detail
		case ch.How != "changed":
			return fmt.Sprintf("upstream action %s %s", ch.Name, ch.How)
		case ch.Detail != "":
			return fmt.Sprintf("output of upstream action %s changed: %s", ch.Name, ch.Detail)
		}
		return fmt.Sprintf("output of upstream action %s changed", ch.Name)
	case "secret":
		return fmt.Sprintf("secret %s %s", ch.Name, ch.How)
	case "sidecar":
		return fmt.Sprintf("sidecar %s %s", ch.Name, ch.How)
	case "outputs":
		return "declared outputs changed: " + ch.Detail
	case "definition":
		return "the action's definition changed (project, stage, name or kind)"
	case "velocity":
		return "Velocity version changed: " + ch.Detail
	}
	return fmt.Sprintf("%s %s %s %s", ch.What, ch.Name, ch.How, ch.Detail)
}
