package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/projects"
	"github.com/velocity-ci/velocity/internal/server"
)

// projectCmd manages the projects of velocity serve on the data
// directory itself, like 'velocity token': no token is needed by the
// owner of the server's data.
func (a *app) projectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "project",
		Short: "Manage the projects velocity serve runs on every commit (add, list, show, remove, run)",
		Long: `A project is a git repository with a velocity.yml at its root. velocity serve
keeps a bare mirror of it and runs its pipeline for each new commit of its
branch: pushed to the built-in git remote (git push http://HOST/git/NAME.git),
announced by a webhook (/hooks/github/NAME, /hooks/gitlab/NAME,
/hooks/gitea/NAME), found by polling (--poll), at the times of its
schedules, or asked for by hand ('velocity project run NAME').`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.projectAddCmd(), a.projectListCmd(), a.projectShowCmd(), a.projectRemoveCmd(), a.projectRunCmd())
	return cmd
}

type projectAddOptions struct {
	req        projects.AddRequest
	mode       string
	secretFile string
}

func (a *app) projectAddCmd() *cobra.Command {
	var o projectAddOptions
	cmd := &cobra.Command{
		Use:   "add NAME [--repo URL_OR_PATH]",
		Short: "Add a project: mirror its repository and run it on every new commit of its branch",
		Long: `Add a project. --repo is a URL git can fetch or a path on this machine; without
it the project is fed only by pushes to the built-in git remote. --mode is
what happens to a commit while a run is going: queued (the default: one run
at a time, in order), superseded (a newer commit replaces one still
waiting) or parallel. --webhook-secret-file (- for standard input) sets the
secret forges sign their webhooks with; without one, webhooks are refused.
--alert-webhook names an http(s) URL (a Slack incoming webhook, or anything
taking Slack's {"text": "..."} JSON) told of failed runs of the branch,
failed deploys and rollbacks.`,
		Args: cobra.ExactArgs(1),
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			svc, _, err := h.Projects(nil)
			if err != nil {
				return err
			}
			return a.projectAdd(ctx, args[0], o, true, svc.Add)
		}), func(ctx context.Context, c *server.Client, args []string) error {
			return a.projectAdd(ctx, args[0], o, false, c.AddProject)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.req.Repo, "repo", "", "the repository: a URL git can fetch or a path on this machine")
	f.StringVar(&o.req.Branch, "branch", "", "the branch whose commits start runs (default main, or the repository's only branch, or master)")
	f.DurationVar(&o.req.Poll, "poll", 0, "fetch the repository this often (e.g. 1m) and run each new head; 0 does not poll")
	f.StringVar(&o.mode, "mode", string(projects.Queued), "queued, superseded or parallel")
	f.StringVar(&o.secretFile, "webhook-secret-file", "", "read the webhooks' secret from `FILE` (- for standard input)")
	f.StringVar(&o.req.AlertWebhook, "alert-webhook", "", "post failed runs, failed deploys and rollbacks to `URL` (Slack-compatible JSON)")
	return cmd
}

// projectAdd adds a project with add: the data directory's service
// (local: a relative path is made absolute, the server does not share
// this working directory) or VELOCITY_SERVER's API (where a path names
// one on the server).
func (a *app) projectAdd(ctx context.Context, name string, o projectAddOptions, local bool, add func(context.Context, projects.AddRequest) (projects.Project, error)) error {
	req := o.req
	req.Name, req.Mode = name, projects.Mode(o.mode)
	if o.req.Poll < 0 {
		return usageError("--poll must not be negative")
	}
	if local && req.Repo != "" && !strings.Contains(req.Repo, "://") && !strings.Contains(req.Repo, "@") {
		// A path is kept absolute: the server does not share this
		// command's working directory.
		abs, err := filepath.Abs(filepath.Join(a.dir, req.Repo))
		if err != nil {
			return err
		}
		if filepath.IsAbs(req.Repo) {
			abs = req.Repo
		}
		req.Repo = abs
	}
	if o.secretFile != "" {
		secret, err := a.readSecretFile(o.secretFile)
		if err != nil {
			return err
		}
		req.WebhookSecret = secret
	}
	if req.Repo != "" {
		fmt.Fprintf(a.stderr, "velocity: mirroring %s…\n", req.Repo)
	}
	p, err := add(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "velocity: project %s added (branch %s, mode %s", p.Name, p.Branch, p.Mode)
	if p.Poll > 0 {
		fmt.Fprintf(a.stderr, ", polled every %s", p.Poll)
	}
	fmt.Fprintln(a.stderr, ")")
	if p.Head == "" && req.Repo != "" {
		fmt.Fprintf(a.stderr, "velocity: warning: the repository has no branch %s yet; runs start once it has commits (give --branch for another)\n", p.Branch)
	}
	fmt.Fprintf(a.stderr, "  push:     git push http://HOST:PORT/git/%s.git %s   (a developer token as password)\n", p.Name, p.Branch)
	if p.Webhooks {
		fmt.Fprintf(a.stderr, "  webhooks: /hooks/github/%[1]s, /hooks/gitlab/%[1]s or /hooks/gitea/%[1]s\n", p.Name)
	}
	if p.Alerts {
		fmt.Fprintf(a.stderr, "  alerts:   failed runs of %s, failed deploys and rollbacks go to the alert webhook\n", p.Branch)
	}
	return nil
}

// readSecretFile reads a webhook secret from a file or, for "-",
// standard input; a trailing newline is not part of it.
func (a *app) readSecretFile(path string) ([]byte, error) {
	var r io.Reader = a.stdin
	if path != "-" {
		f, err := os.Open(filepath.Join(a.dir, path))
		if filepath.IsAbs(path) {
			f, err = os.Open(path)
		}
		if err != nil {
			return nil, usageError("--webhook-secret-file: %v", err)
		}
		defer f.Close()
		r = f
	}
	v, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return nil, err
	}
	v = bytes.TrimRight(v, "\r\n")
	if len(v) == 0 {
		return nil, usageError("--webhook-secret-file: the secret is empty")
	}
	return v, nil
}

func (a *app) projectListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List projects with their branch, mode and last commit seen",
		Args:  cobra.NoArgs,
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, _ []string) error {
			svc, _, err := h.Projects(nil)
			if err != nil {
				return err
			}
			list, err := svc.List(ctx)
			if err != nil {
				return err
			}
			return a.printProjects(list)
		}), func(ctx context.Context, c *server.Client, _ []string) error {
			list, err := c.Projects(ctx)
			if err != nil {
				return err
			}
			return a.printProjects(list)
		}),
	}
}

func (a *app) printProjects(list []projects.Project) error {
	if len(list) == 0 {
		fmt.Fprintln(a.stdout, "no projects yet: add one with 'velocity project add NAME --repo URL'")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tBRANCH\tMODE\tPOLL\tWEBHOOKS\tHEAD\tREPOSITORY")
	for _, p := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Branch, p.Mode, pollText(p.Poll), yesNo(p.Webhooks), short(p.Head), orDash(p.Repo))
	}
	return tw.Flush()
}

func (a *app) projectShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a project, its recent runs and the commits waiting to run",
		Args:  cobra.ExactArgs(1),
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			svc, _, err := h.Projects(nil)
			if err != nil {
				return err
			}
			d, err := svc.Show(ctx, args[0])
			if err != nil {
				return err
			}
			a.printProject(d)
			return nil
		}), func(ctx context.Context, c *server.Client, args []string) error {
			d, err := c.Project(ctx, args[0])
			if err != nil {
				return err
			}
			a.printProject(d)
			return nil
		}),
	}
}

func (a *app) printProject(d projects.Details) {
	p := d.Project
	fmt.Fprintf(a.stdout, "project %s\n  repository %s\n  branch     %s\n  mode       %s\n  poll       %s\n  webhooks   %s\n  head       %s\n",
		p.Name, orDash(p.Repo), p.Branch, p.Mode, pollText(p.Poll), yesNo(p.Webhooks), orDash(p.Head))
	if len(d.Waiting) > 0 {
		fmt.Fprintln(a.stdout, "\nwaiting:")
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		for _, q := range d.Waiting {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", short(q.Commit), q.Branch, q.Trigger, q.Received.Local().Format(time.DateTime))
		}
		tw.Flush()
	}
	fmt.Fprintln(a.stdout, "\nruns:")
	if len(d.Runs) == 0 {
		fmt.Fprintln(a.stdout, "  none yet")
		return
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, r := range d.Runs {
		fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s\n", r.ID, r.Status, short(r.Commit), r.Created.Local().Format(time.DateTime), r.Trigger)
	}
	tw.Flush()
}

func (a *app) projectRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a project and its mirror (its runs stay in the journal)",
		Args:  cobra.ExactArgs(1),
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			svc, _, err := h.Projects(nil)
			if err != nil {
				return err
			}
			if err := svc.Remove(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "velocity: project %s removed\n", args[0])
			return nil
		}), func(ctx context.Context, c *server.Client, args []string) error {
			if err := c.RemoveProject(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "velocity: project %s removed\n", args[0])
			return nil
		}),
	}
}

func (a *app) projectRunCmd() *cobra.Command {
	var ref string
	cmd := &cobra.Command{
		Use:   "run NAME [--ref REF]",
		Short: "Queue a run of a project at its branch's head (or at --ref); velocity serve starts it",
		Args:  cobra.ExactArgs(1),
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			svc, _, err := h.Projects(nil)
			if err != nil {
				return err
			}
			by := "the command line"
			if u := a.getenv("USER"); u != "" {
				by = u
			}
			q, err := svc.Trigger(ctx, args[0], projects.TriggerRequest{Ref: ref, Trigger: "manual by " + by})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "velocity: queued %s at %s (request %d); velocity serve starts it\n", args[0], short(q.Commit), q.ID)
			return nil
		}), func(ctx context.Context, c *server.Client, args []string) error {
			q, err := c.TriggerProject(ctx, args[0], ref)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "velocity: queued %s at %s (request %d, %s)\n", args[0], short(q.Commit), q.ID, q.Trigger)
			return nil
		}),
	}
	cmd.Flags().StringVar(&ref, "ref", "", "a branch, tag or commit to run instead of the project's branch")
	return cmd
}

func pollText(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// short abbreviates a commit id as git does by default.
func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return orDash(commit)
}
