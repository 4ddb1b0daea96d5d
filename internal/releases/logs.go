package releases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// Live says which release of the service serves and, when a host runs,
// which instances of it do: ids is nil when that is not known. Without a
// host the journal's live release is the one that comes back at the next
// start; for releases hosted before deploys were journaled, the newest
// is the last one that served.
func (c *Catalog) Live(ctx context.Context, env, service string) (release string, ids []string, err error) {
	if st, ok := c.Serving(ctx); ok {
		for _, s := range st.Services {
			if s.Environment == env && s.Service == service && s.Release != "" {
				ids = []string{}
				for _, in := range s.Instances {
					ids = append(ids, in.ID)
				}
				return s.Release, ids, nil
			}
		}
	}
	if ds, err := c.Journal.Deployments(ctx, env, service); err == nil {
		for _, d := range ds {
			if d.Status == store.Live {
				return d.Release, nil, nil
			}
		}
	}
	dirs, err := c.dirs(env, service)
	if err != nil {
		return "", nil, err
	}
	return filepath.Base(dirs[0]), nil, nil
}

// instanceLog is the log file of one instance.
type instanceLog struct {
	Instance string
	Path     string
	Modified time.Time
}

// instanceLogs lists the instance logs of release, oldest first, keeping
// only the instances in ids unless ids is nil; hidden counts those left
// out. A release without a directory (yet) fails with ErrInvalid.
func (c *Catalog) instanceLogs(env, service, release string, ids []string) (shown []instanceLog, hidden int, err error) {
	dir, err := c.dir(env, service, release)
	if err != nil {
		return nil, 0, err
	}
	paths, _ := filepath.Glob(filepath.Join(dir, ".logs", "*.log"))
	for _, p := range paths {
		id := strings.TrimSuffix(filepath.Base(p), ".log")
		if ids != nil && !slices.Contains(ids, id) {
			hidden++
			continue
		}
		l := instanceLog{Instance: id, Path: p}
		if fi, err := os.Stat(p); err == nil {
			l.Modified = fi.ModTime()
		}
		shown = append(shown, l)
	}
	sort.SliceStable(shown, func(i, j int) bool { return shown[i].Modified.Before(shown[j].Modified) })
	return shown, hidden, nil
}

// LogRequest names the instance logs to read.
type LogRequest struct {
	Environment, Service string
	// Release reads that release's logs, of every instance it had; empty
	// reads the live release's instances'.
	Release string
}

// shown is the release whose logs req reads and its instances (nil: all).
func (c *Catalog) shown(ctx context.Context, req LogRequest) (string, []string, error) {
	if req.Release != "" {
		return req.Release, nil, nil
	}
	return c.Live(ctx, req.Environment, req.Service)
}

// ReadLogs calls each with every instance log of req's release in turn,
// oldest first, and returns the release and how many logs of instances
// that no longer run it left out.
func (c *Catalog) ReadLogs(ctx context.Context, req LogRequest, each func(release, instance string, r io.Reader) error) (release string, shown, hidden int, err error) {
	release, ids, err := c.shown(ctx, req)
	if err != nil {
		return "", 0, 0, err
	}
	logs, hidden, err := c.instanceLogs(req.Environment, req.Service, release, ids)
	if err != nil {
		return release, 0, 0, err
	}
	for _, l := range logs {
		if err := readLog(l.Path, func(f *os.File) error { return each(release, l.Instance, f) }); err != nil {
			return release, 0, 0, err
		}
	}
	return release, len(logs), hidden, nil
}

func readLog(path string, fn func(*os.File) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("instance log: %w", err)
	}
	defer f.Close()
	return fn(f)
}

// LogEvent is what FollowLogs reports.
type LogEvent struct {
	// Instance wrote Data.
	Instance string
	Data     []byte
	// NowRelease is set when another release went live (a deploy, a
	// rollback): the old instances' output is complete, and what
	// follows is NowRelease's.
	NowRelease string
}

// FollowLogs calls fn with what the instances of req's release write,
// from the start of their logs, looking every poll for more until ctx
// ends. Following the live release, it goes on with the next one's
// instances when another release goes live.
func (c *Catalog) FollowLogs(ctx context.Context, req LogRequest, poll time.Duration, fn func(LogEvent) error) error {
	f := &follower{tails: map[string]*logTail{}, buf: make([]byte, 32*1024), fn: fn}
	for {
		release, ids, err := c.shown(ctx, req)
		if err != nil {
			return err
		}
		if f.release != "" && release != f.release {
			// The old instances' last words (their "stopped" lines) first.
			if err := f.copyAll(); err != nil {
				return err
			}
			if err := fn(LogEvent{NowRelease: release}); err != nil {
				return err
			}
			f.tails, f.order = map[string]*logTail{}, nil
		}
		f.release = release
		// A release directory not there (yet) has nothing to show: keep
		// following rather than end.
		logs, _, _ := c.instanceLogs(req.Environment, req.Service, release, ids)
		for _, l := range logs {
			if f.tails[l.Path] == nil {
				t := &logTail{instance: l.Instance, path: l.Path}
				f.tails[l.Path] = t
				f.order = append(f.order, t)
			}
		}
		if err := f.copyAll(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}

// follower is the state of one FollowLogs.
type follower struct {
	release string
	tails   map[string]*logTail // by path
	order   []*logTail
	buf     []byte
	fn      func(LogEvent) error
}

// logTail is how far one instance log was read.
type logTail struct {
	instance, path string
	off            int64
}

// copyAll reports what the tailed logs gained since the last call.
func (f *follower) copyAll() error {
	for _, t := range f.order {
		err := readLog(t.path, func(file *os.File) error {
			for {
				n, err := file.ReadAt(f.buf, t.off)
				if n > 0 {
					t.off += int64(n)
					if ferr := f.fn(LogEvent{Instance: t.instance, Data: f.buf[:n]}); ferr != nil {
						return ferr
					}
				}
				if err == io.EOF || n == 0 {
					return nil
				}
				if err != nil {
					return fmt.Errorf("log of instance %s: %w", t.instance, err)
				}
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}
