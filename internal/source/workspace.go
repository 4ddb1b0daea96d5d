package source

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/velocity-ci/velocity/internal/lockfile"
)

// DefaultMaxSlots is how many workspaces a project gets when
// Workspaces.MaxSlots is zero: as many of its runs can go at once.
const DefaultMaxSlots = 16

// ErrNoFreeSlot is wrapped by the error Claim returns when every workspace
// of the project is in use.
var ErrNoFreeSlot = errors.New("no free workspace")

// Workspaces hands out the directories runs work in. A project always gets
// the same directory, so the paths tools see do not change from run to run
// and caches keyed by path hit (Go's test cache is the notable one; Bazel,
// GitHub Actions and Woodpecker give a step a stable path for the same
// reason). Take then synchronises the directory with the project.
//
// Two runs of one project at once must not share a directory, so each is
// held with a lock while a run uses it, and a second run takes the next
// slot: <name>-<hash>, <name>-<hash>-2, <name>-<hash>-3… Each slot is as
// stable as the first. The lock files stay beside the directories; the
// kernel drops a lock when its process dies, so a killed run's slot is
// free again at once, and the next Take brings it back to the snapshot.
//
// Workspaces are kept between runs (paths in a failed action's output still
// lead to the files). Removing Dir while no run is going loses nothing but
// the speed of the next run.
type Workspaces struct {
	// Dir holds the workspaces and their lock files.
	Dir string
	// MaxSlots bounds the workspaces of one project, and so how many of
	// its runs can go at once; zero means DefaultMaxSlots.
	MaxSlots int
}

// Workspace is a workspace directory claimed for one run.
type Workspace struct {
	Dir  string
	lock *lockfile.Lock
}

// Index is where the workspace's file index is kept (Options.Index),
// beside the directory: deleting it only makes the next run compare every
// file by content.
func (w *Workspace) Index() string { return w.Dir + indexSuffix }

// indexSuffix names a workspace's index file and, with ".updating" after
// it, its update marker.
const indexSuffix = ".index"

// Release lets another run take the workspace. The directory stays.
func (w *Workspace) Release() error { return w.lock.Close() }

// Claim takes the first free workspace of the project at projectDir (an
// absolute path: the project's identity), creating Dir if needed.
func (ws Workspaces) Claim(projectDir string) (*Workspace, error) {
	limit := ws.MaxSlots
	if limit <= 0 {
		limit = DefaultMaxSlots
	}
	if err := os.MkdirAll(ws.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("workspaces: %w", err)
	}
	base := SlotName(projectDir)
	for n := 1; n <= limit; n++ {
		name := base
		if n > 1 {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		lock, err := lockfile.TryHold(filepath.Join(ws.Dir, name+".lock"), 0o600)
		if errors.Is(err, lockfile.ErrHeld) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("workspace %s: %w", name, err)
		}
		return &Workspace{Dir: filepath.Join(ws.Dir, name), lock: lock}, nil
	}
	return nil, fmt.Errorf("%w for %s: all %d of its workspaces in %s are used by runs going on now (limit Workspaces.MaxSlots = %d); wait for one to finish",
		ErrNoFreeSlot, projectDir, limit, ws.Dir, limit)
}

// SlotName is the name of a project's first workspace: the directory's
// base name, readable in paths printed by tools, and a short hash of the
// whole path, so two projects of the same name do not share one.
func SlotName(projectDir string) string {
	sum := sha256.Sum256([]byte(projectDir))
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, filepath.Base(projectDir))
	name = strings.TrimLeft(name, ".")
	if len(name) > 40 {
		name = name[:40]
	}
	if name == "" {
		name = "project"
	}
	return name + "-" + hex.EncodeToString(sum[:4])
}

// Clean removes the workspaces no run is using; those in use are left and
// named in busy. Runs only lose speed: the next one copies the project
// afresh. A run that starts meanwhile takes another slot, so Clean is safe
// at any time.
func (ws Workspaces) Clean() (removed, busy []string, err error) {
	entries, err := os.ReadDir(ws.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("workspaces: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".lock") || strings.Contains(name, indexSuffix) {
			continue
		}
		dir := filepath.Join(ws.Dir, name)
		// Directories without a lock file are from before workspaces were
		// kept (a run's token, kept by --keep-workspace): no run uses them.
		lock, err := lockfile.TryHold(dir+".lock", 0o600)
		if errors.Is(err, lockfile.ErrHeld) {
			busy = append(busy, dir)
			continue
		}
		if err != nil {
			return removed, busy, fmt.Errorf("workspace %s: %w", name, err)
		}
		// The index first: it describes the directory, and must not
		// outlive it (a new directory is written afresh anyway).
		err = removeIndex(dir)
		if err == nil {
			err = removeTree(ws.Dir, name)
		}
		lock.Close()
		if err != nil {
			return removed, busy, err
		}
		removed = append(removed, dir)
	}
	return removed, busy, nil
}

// removeTree removes name from dir, even a tree a tool made read-only,
// without following symlinks out of dir.
func removeTree(dir, name string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("workspaces: %w", err)
	}
	defer root.Close()
	c := &copier{dst: root}
	return c.clear(name)
}

// removeIndex removes the file index of workspace dir, its marker and
// its commit date.
func removeIndex(dir string) error {
	for _, p := range []string{dir + indexSuffix, updateMarker(dir + indexSuffix), commitTimeFile(dir + indexSuffix)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("workspaces: %w", err)
		}
	}
	return nil
}
