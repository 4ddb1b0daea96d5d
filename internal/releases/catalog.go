package releases

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// Catalog answers what a data directory knows of its releases, from any
// process: the journal, the release directories and, when a host runs,
// what it serves.
type Catalog struct {
	DataDir string
	Journal store.Deployments
	// Runs gives the commit and outcome of the run that made a release.
	Runs interface {
		Run(ctx context.Context, id int64) (store.Run, error)
	}
	// AskHost asks the data directory's host what it serves; ok is false
	// when no host answers. nil: none is asked.
	AskHost func(ctx context.Context) (st Status, ok bool)
}

// Releases lists the journaled deployments of service in env, newest
// first.
func (c *Catalog) Releases(ctx context.Context, env, service string) ([]Release, error) {
	return journaled(ctx, c.Journal, env, service)
}

// Serving says what the data directory's host serves; ok is false when
// no host answers.
func (c *Catalog) Serving(ctx context.Context) (st Status, ok bool) {
	if c.AskHost == nil {
		return Status{}, false
	}
	return c.AskHost(ctx)
}

// Hosted reports whether a host answers for the data directory.
func (c *Catalog) Hosted(ctx context.Context) bool {
	_, ok := c.Serving(ctx)
	return ok
}

// ReleaseDir is a release found on disk only: deployed before deploys
// were journaled.
type ReleaseDir struct {
	Release string
	RunID   int64
	// Commit and RunStatus are the run's; empty when it is gone.
	Commit    string
	RunStatus store.Status
	Deployed  time.Time
}

// ReleaseDirs lists the release directories of service in env, newest
// run first. It fails with ErrInvalid when there are none.
func (c *Catalog) ReleaseDirs(ctx context.Context, env, service string) ([]ReleaseDir, error) {
	dirs, err := c.dirs(env, service)
	if err != nil {
		return nil, err
	}
	out := make([]ReleaseDir, 0, len(dirs))
	for _, d := range dirs {
		rd := ReleaseDir{Release: filepath.Base(d), RunID: releaseRun(d)}
		if c.Runs != nil {
			if r, err := c.Runs.Run(ctx, rd.RunID); err == nil {
				rd.Commit, rd.RunStatus = r.Commit, r.Status
			}
		}
		if fi, err := os.Stat(d); err == nil {
			rd.Deployed = fi.ModTime()
		}
		out = append(out, rd)
	}
	return out, nil
}

// dirs lists ENV/SERVICE's release directories, newest first.
func (c *Catalog) dirs(env, service string) ([]string, error) {
	base := filepath.Join(c.DataDir, "releases", env, service)
	entries, err := os.ReadDir(base)
	if os.IsNotExist(err) {
		return nil, fault.Invalidf("no releases of %s in %s yet (deploy it with a deploy: action)", service, env)
	}
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "r") {
			dirs = append(dirs, filepath.Join(base, e.Name()))
		}
	}
	// Release rN comes from run N: newest run first.
	sort.Slice(dirs, func(i, j int) bool { return releaseRun(dirs[i]) > releaseRun(dirs[j]) })
	return dirs, nil
}

func releaseRun(dir string) int64 {
	n, _ := strconv.ParseInt(strings.TrimPrefix(filepath.Base(dir), "r"), 10, 64)
	return n
}

// dir finds release of env/service.
func (c *Catalog) dir(env, service, release string) (string, error) {
	dirs, err := c.dirs(env, service)
	if err != nil {
		return "", err
	}
	for _, d := range dirs {
		if filepath.Base(d) == release {
			return d, nil
		}
	}
	return "", fault.Invalidf("no release %s of %s in %s (see 'velocity releases %s %s')", release, service, env, env, service)
}

// CheckService fails with ErrInvalid when service was never deployed in
// env here, or, with release set, when it has no such release.
func (c *Catalog) CheckService(env, service, release string) error {
	if _, err := c.dirs(env, service); err != nil {
		return err
	}
	if release == "" {
		return nil
	}
	_, err := c.dir(env, service, release)
	return err
}
