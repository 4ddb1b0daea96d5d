// Package mirror keeps bare mirrors of projects' repositories under the
// data directory (DATA/mirrors/NAME.git): the server fetches a project's
// commits into its mirror, reads velocity.yml from a commit there, and
// serves the mirror to `git push` and `git clone` through the built-in git
// remote. Every git command goes through package proc.
//
// # Upstream and pushes
//
// A mirror may have an upstream (the repository the project was added
// from) and may be pushed to through the built-in remote, so a branch can
// be written from both sides. The rule: a fetch never throws away a
// pushed commit.
//
// Fetch brings the upstream's branches and tags into refs/upstream/heads/*
// and refs/upstream/tags/* (forced and pruned: that namespace is the
// upstream as last seen), then carries each change over to the mirror's
// own refs/heads/* and refs/tags/*:
//
//   - a branch or tag the mirror does not have is created;
//   - a branch moves to the upstream's commit when the mirror's branch
//     still points where the upstream had it at the previous fetch
//     (nobody pushed to it since: it follows even a forced update), or
//     when the upstream's commit contains the mirror's (a fast-forward:
//     the pushed commits reached the upstream too);
//   - otherwise the mirror keeps its branch (commits were pushed that the
//     upstream does not have) and the fetch logs that it diverged;
//   - a tag moves, and a branch or tag the upstream deleted is deleted,
//     only when the mirror's still points where the upstream had it;
//   - a branch deleted by a push comes back only when the upstream
//     moves it.
//
// The namespace refs/upstream is hidden from clients of the built-in
// remote (uploadpack.hideRefs, receive.hideRefs): they neither see nor
// write it.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/proc"
)

// Mirrors is the directory of the mirrors. The zero Log discards.
type Mirrors struct {
	Dir string // DATA/mirrors
	Log *slog.Logger
}

const (
	upstreamHeads = "refs/upstream/heads/"
	upstreamTags  = "refs/upstream/tags/"
	// fetchLock, inside a mirror, serialises its fetches (across
	// processes too: flock).
	fetchLock = "velocity-fetch.lock"
)

// fetchSpecs bring the upstream into its own namespace.
var fetchSpecs = []string{"+refs/heads/*:" + upstreamHeads + "*", "+refs/tags/*:" + upstreamTags + "*"}

// Path is the directory of the mirror of project name.
func (m Mirrors) Path(name string) string {
	return filepath.Join(m.Dir, name+".git")
}

// CheckName refuses a name that cannot be a mirror's directory under Dir:
// empty, with a slash or a backslash, control characters, "..", or a
// leading dot or dash. It is fault.Invalid.
func CheckName(name string) error {
	bad := name == "" || len(name) > 100 || strings.ContainsAny(name, `/\`) ||
		strings.Contains(name, "..") || name[0] == '.' || name[0] == '-' ||
		strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f })
	if bad {
		return fault.Invalidf("project name %q cannot name a repository: use letters, digits, '.', '_' and '-'", name)
	}
	return nil
}

func (m Mirrors) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Log
}

// Create makes the mirror of project name: a clone of repo (a URL git can
// fetch over file, git, http, https or ssh, or a path on this machine),
// or an empty repository when repo is "", fed only by pushes. The mirror
// accepts pushes over HTTP (http.receivepack). A mirror that exists is
// fault.Conflict; a repository that cannot be cloned fault.Invalid,
// with git's message. A failed Create leaves nothing behind.
func (m Mirrors) Create(ctx context.Context, name, repo string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if strings.HasPrefix(repo, "-") {
		return fault.Invalidf("repository %q: a repository cannot start with '-'", repo)
	}
	dst := m.Path(name)
	if _, err := os.Lstat(dst); err == nil {
		return fault.Conflictf("a mirror of project %s exists already at %s", name, dst)
	}
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		return fmt.Errorf("mirror %s: %w", name, err)
	}
	tmp, err := os.MkdirTemp(m.Dir, "."+name+".tmp-")
	if err != nil {
		return fmt.Errorf("mirror %s: %w", name, err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	g := newGit(m.Dir)
	if repo == "" {
		if _, err := g.output(ctx, "init", "--bare", "--quiet", "--initial-branch=main", tmp); err != nil {
			return fmt.Errorf("mirror %s: %w", name, err)
		}
	} else {
		repo = absolute(repo)
		if _, err := g.output(ctx, "clone", "--bare", "--quiet", "--", repo, tmp); err != nil {
			if ctx.Err() == nil {
				err = fault.Mark(fault.Invalid, err)
			}
			return fmt.Errorf("project %s: cannot clone %s: %w", name, Redact(repo), err)
		}
	}
	g = newGit(tmp)
	config := [][2]string{
		{"http.receivepack", "true"},
		{"uploadpack.hideRefs", "refs/upstream"},
		{"receive.hideRefs", "refs/upstream"},
	}
	if repo != "" {
		config = append(config, [2]string{"remote.origin.tagOpt", "--no-tags"})
	}
	for _, kv := range config {
		if _, err := g.output(ctx, "config", kv[0], kv[1]); err != nil {
			return fmt.Errorf("mirror %s: %w", name, err)
		}
	}
	if repo != "" {
		// What a later `git fetch` in the mirror does by itself too.
		if _, err := g.output(ctx, "config", "--replace-all", "remote.origin.fetch", fetchSpecs[0]); err != nil {
			return fmt.Errorf("mirror %s: %w", name, err)
		}
		if _, err := g.output(ctx, "config", "--add", "remote.origin.fetch", fetchSpecs[1]); err != nil {
			return fmt.Errorf("mirror %s: %w", name, err)
		}
		// The clone's branches and tags are the upstream's: record them
		// as the upstream last seen, for the next Fetch to compare.
		if _, err := g.output(ctx, append([]string{"-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=60",
			"fetch", "--quiet", "--prune", "--no-tags", "origin"}, fetchSpecs...)...); err != nil {
			return fmt.Errorf("mirror %s: %w", name, err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("mirror %s: %w", name, err)
	}
	done = true
	m.log().Info("mirror created", "project", name, "repo", Redact(repo), "path", dst)
	return nil
}

// Redact hides the user information of a repository URL
// (https://user:secret@host/…, and https://TOKEN@host/… as forges' access
// tokens are often written), for logs, messages and the API.
func Redact(repo string) string {
	u, err := url.Parse(repo)
	if err != nil || u.User == nil {
		return repo
	}
	u.User = url.User("xxxxx")
	return u.String()
}

// absolute makes a repository given as a relative path absolute, so that
// the mirror's fetches find it whatever their working directory. URLs,
// scp-like addresses (host:path) and absolute paths are kept.
func absolute(repo string) string {
	if filepath.IsAbs(repo) || strings.Contains(repo, "://") {
		return repo
	}
	if i := strings.IndexByte(repo, ':'); i >= 0 && !strings.Contains(repo[:i], "/") {
		return repo // host:path, or a transport such as ext:: that git refuses
	}
	if abs, err := filepath.Abs(repo); err == nil {
		return abs
	}
	return repo
}

// open checks name and that its mirror exists (fault.NotFound).
func (m Mirrors) open(name string) (git, error) {
	if err := CheckName(name); err != nil {
		return git{}, err
	}
	dir := m.Path(name)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return git{}, fault.NotFoundf("no mirror of project %s (%s)", name, dir)
	}
	return newGit(dir), nil
}

// Find returns the directory of project name's mirror: fault.NotFound
// when there is none, fault.Invalid for a name that cannot have one. Its
// shape is gitremote.Handler's Repo.
func (m Mirrors) Find(_ context.Context, name string) (string, error) {
	g, err := m.open(name)
	if err != nil {
		return "", err
	}
	return g.dir, nil
}

// Remove deletes the mirror of project name; a mirror that is not there
// is not an error.
func (m Mirrors) Remove(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := os.RemoveAll(m.Path(name)); err != nil {
		return fmt.Errorf("remove the mirror of %s: %w", name, err)
	}
	return nil
}

// Heads returns the mirror's branches: "refs/heads/main" -> commit id.
func (m Mirrors) Heads(ctx context.Context, name string) (map[string]string, error) {
	g, err := m.open(name)
	if err != nil {
		return nil, err
	}
	return g.refs(ctx, "refs/heads/")
}

// refs lists the refs under prefix with the object each points at.
func (g git) refs(ctx context.Context, prefix string) (map[string]string, error) {
	out, err := g.output(ctx, "for-each-ref", "--format=%(objectname) %(refname)", prefix)
	if err != nil {
		return nil, err
	}
	refs := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if id, ref, ok := strings.Cut(line, " "); ok {
			refs[ref] = id
		}
	}
	return refs, nil
}

// FetchTimeout bounds one fetch of a mirror, waiting for another fetch
// of it included.
const FetchTimeout = 10 * time.Minute

// holdFetchLock takes the mirror's fetch lock, waiting for another
// fetch to end for as long as ctx lets it.
func holdFetchLock(ctx context.Context, path string) (*lockfile.Lock, error) {
	for {
		lock, err := lockfile.TryHold(path, 0o600)
		if !errors.Is(err, lockfile.ErrHeld) {
			return lock, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for another fetch: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Fetch brings the upstream's new commits into the mirror by the rule in
// the package documentation; a mirror without an upstream is left as it
// is. Fetches of one mirror run one at a time.
//
// A fetch ends within FetchTimeout, and one whose transfer stalls below
// 1 KB/s for a minute fails sooner: an upstream that accepts and never
// answers must not hold the project's queue forever.
func (m Mirrors) Fetch(ctx context.Context, name string) error {
	g, err := m.open(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	lock, err := holdFetchLock(ctx, filepath.Join(g.dir, fetchLock))
	if err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	defer lock.Close()
	if _, err := g.output(ctx, "config", "--get", "remote.origin.url"); err != nil {
		if proc.ExitCode(err) == 1 {
			return nil // no upstream: fed by pushes only
		}
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	before, err := g.refs(ctx, "refs/upstream/")
	if err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	if _, err := g.output(ctx, append([]string{"-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=60",
		"fetch", "--quiet", "--prune", "--no-tags", "origin"}, fetchSpecs...)...); err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	after, err := g.refs(ctx, "refs/upstream/")
	if err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	// A push between listing the mirror's refs and updating them makes
	// the update's compare-and-swap fail: look again.
	for attempt := 0; ; attempt++ {
		err = m.follow(ctx, g, name, before, after)
		if err == nil || attempt == 2 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	return nil
}

// follow carries the upstream's changes (before -> after, refs under
// refs/upstream/) over to the mirror's own branches and tags, in one
// transaction that checks each ref still has the value it was decided on.
func (m Mirrors) follow(ctx context.Context, g git, name string, before, after map[string]string) error {
	local, err := g.refs(ctx, "refs/heads/")
	if err != nil {
		return err
	}
	tags, err := g.refs(ctx, "refs/tags/")
	if err != nil {
		return err
	}
	for k, v := range tags {
		local[k] = v
	}
	seen := map[string]bool{}
	var script strings.Builder
	for _, refs := range []map[string]string{after, before} {
		for up := range refs {
			if seen[up] {
				continue
			}
			seen[up] = true
			own, branch := ownRef(up)
			if own == "" {
				continue
			}
			was, now, have := before[up], after[up], local[own]
			switch {
			case now == have:
			case now == "":
				if have != "" && have == was {
					fmt.Fprintf(&script, "delete %s %s\n", own, have)
				}
			case have == "":
				if now != was {
					fmt.Fprintf(&script, "create %s %s\n", own, now)
				}
			case have == was:
				fmt.Fprintf(&script, "update %s %s %s\n", own, now, have)
			case branch && g.isAncestor(ctx, have, now):
				fmt.Fprintf(&script, "update %s %s %s\n", own, now, have)
			case now != was:
				m.log().Warn("mirror keeps a pushed ref the upstream does not have",
					"project", name, "ref", own, "mirror", have, "upstream", now)
			}
		}
	}
	if script.Len() == 0 {
		return nil
	}
	_, err = g.run(ctx, script.String(), "update-ref", "--stdin")
	return err
}

// ownRef is the mirror's ref for a ref of the upstream namespace, and
// whether it is a branch.
func ownRef(up string) (string, bool) {
	if b, ok := strings.CutPrefix(up, upstreamHeads); ok {
		return "refs/heads/" + b, true
	}
	if t, ok := strings.CutPrefix(up, upstreamTags); ok {
		return "refs/tags/" + t, false
	}
	return "", false
}

// isAncestor reports whether commit a is an ancestor of (or is) b; any
// failure counts as no.
func (g git) isAncestor(ctx context.Context, a, b string) bool {
	_, err := g.output(ctx, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// hexID matches an abbreviated or full commit id (SHA-1 or SHA-256).
var hexID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`) })

// Resolve turns a branch, a tag or a commit id (abbreviated or full) of
// the mirror into a full commit id; "refs/heads/…" and "refs/tags/…" are
// taken too. A branch wins over a tag of the same name, both over a
// commit id. A ref that names nothing is fault.NotFound; one that is not
// a plain name (a leading '-', revision syntax such as "~", "^", ":",
// "@{") is fault.Invalid.
func (m Mirrors) Resolve(ctx context.Context, name, ref string) (string, error) {
	g, err := m.open(name)
	if err != nil {
		return "", err
	}
	if err := checkRef(ref); err != nil {
		return "", err
	}
	var candidates []string
	switch {
	case strings.HasPrefix(ref, "refs/heads/") || strings.HasPrefix(ref, "refs/tags/"):
		candidates = []string{ref}
	default:
		candidates = []string{"refs/heads/" + ref, "refs/tags/" + ref}
		if hexID().MatchString(ref) {
			candidates = append(candidates, ref)
		}
	}
	for _, c := range candidates {
		out, err := g.output(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", c+"^{commit}")
		if err == nil {
			return strings.TrimSpace(string(out)), nil
		}
		if proc.ExitCode(err) < 0 {
			return "", fmt.Errorf("resolve %s in %s: %w", ref, name, err)
		}
	}
	return "", fault.NotFoundf("project %s has no branch, tag or commit %q", name, ref)
}

// checkRef refuses what git would read as an option or as revision
// syntax rather than a name.
func checkRef(ref string) error {
	bad := ref == "" || ref[0] == '-' || strings.Contains(ref, "..") || strings.Contains(ref, "@{") ||
		strings.ContainsAny(ref, " ~^:?*[\\") ||
		strings.ContainsFunc(ref, func(r rune) bool { return r < 0x20 || r == 0x7f })
	if bad {
		return fault.Invalidf("ref %q: give a branch, a tag or a commit id", ref)
	}
	return nil
}

// File returns the content of the file at path in commit (a full or
// abbreviated id). A commit or file that is not there, or a path that is
// a directory, is fault.NotFound.
func (m Mirrors) File(ctx context.Context, name, commit, path string) ([]byte, error) {
	g, err := m.open(name)
	if err != nil {
		return nil, err
	}
	if !hexID().MatchString(commit) {
		return nil, fault.Invalidf("commit %q is not a commit id", commit)
	}
	clean := filepath.ToSlash(filepath.Clean("/" + path))[1:]
	if clean == "" || clean != path || strings.ContainsFunc(path, func(r rune) bool { return r < 0x20 }) {
		return nil, fault.Invalidf("path %q: give a relative path inside the repository", path)
	}
	// --batch-check answers "missing" instead of failing, so a missing
	// file is told apart from a failure without reading git's messages.
	out, err := g.run(ctx, commit+":"+path+"\n", "cat-file", "--batch-check")
	if err != nil {
		return nil, fmt.Errorf("read %s at %s in %s: %w", path, commit, name, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 3 || f[1] != "blob" {
		return nil, fault.NotFoundf("project %s has no file %s at commit %s", name, path, commit)
	}
	b, err := g.output(ctx, "cat-file", "blob", f[0])
	if err != nil {
		return nil, fmt.Errorf("read %s at %s in %s: %w", path, commit, name, err)
	}
	return b, nil
}
