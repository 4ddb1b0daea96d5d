package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/store"
)

func (a *app) rerunCmd() *cobra.Command {
	var o runOptions
	var failed bool
	cmd := &cobra.Command{
		Use:   "rerun RUN",
		Short: "Run a past run again at the same commit (--failed: only what did not succeed)",
		Long: `Start a new run of the same project at the same commit as RUN.

With --failed, every action that succeeded in RUN keeps its result (its
outputs are restored, it shows as cached from RUN) and only the failed,
cancelled, interrupted and skipped actions execute. Without it, every
action executes again, bypassing the result cache. A partial run (velocity
run NAME…, --only, --skip) is re-run with the same selection.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			h, err := a.openHome(ctx)
			if err != nil {
				return err
			}
			old, err := a.runArg(ctx, h, args[0])
			if err != nil {
				h.close()
				return err
			}
			if !old.Status.Final() {
				h.close()
				return usageError("run %d is still %s", old.ID, old.Status)
			}
			req := runRequest{runOptions: o, dir: old.Dir}
			req.commit = old.Commit
			// A partial run is re-run as the same part of the pipeline.
			req.only, req.skip = old.Selection.Only, old.Selection.Skip
			switch {
			case old.Commit == "":
				req.note = fmt.Sprintf("run %d was not of a git commit: re-running the directory as it is now", old.ID)
			case old.Dirty:
				// The uncommitted changes of then are gone; the commit is what can be reproduced.
				req.note = fmt.Sprintf("run %d included uncommitted changes, which cannot be recovered: re-running its commit %.12s", old.ID, old.Commit)
			}
			if failed {
				acts, err := h.store.Actions(ctx, old.ID)
				if err != nil {
					h.close()
					return err
				}
				req.reuse = map[store.Key]int64{}
				for _, act := range acts {
					if act.Status.OK() {
						req.reuse[act.Key()] = old.ID
					}
				}
				if len(req.reuse) == len(acts) {
					h.close()
					return usageError("run %d has nothing that failed to re-run", old.ID)
				}
			} else {
				req.noCache = true
			}
			h.close()
			return a.run(ctx, req)
		},
	}
	a.runFlags(cmd, &o)
	cmd.Flags().BoolVar(&failed, "failed", false, "keep the results of the actions that succeeded; run only the others")
	return cmd
}
