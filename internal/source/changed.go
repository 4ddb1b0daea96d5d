package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNoBase is wrapped by Changed's error when the changes cannot be
// known: the project is not in a git repository, or base is not a commit
// of it (never fetched, or garbage-collected).
var ErrNoBase = errors.New("no commit to compare with")

// Changed lists the files of the project at projectDir that differ
// between commit base and what a run of rev works on: with rev empty, the
// work tree as Take copies it (tracked files as they are now, deleted
// ones, and untracked non-ignored ones); otherwise commit rev. Paths are
// slash-separated and relative to projectDir; files outside it do not
// count. The result is sorted.
func Changed(ctx context.Context, projectDir, base, rev string) ([]string, error) {
	if base == "" || strings.HasPrefix(base, "-") || strings.HasPrefix(rev, "-") {
		return nil, fmt.Errorf("%w: %q", ErrNoBase, base)
	}
	g := newGit(projectDir)
	if _, err := g.output(ctx, "rev-parse", "--verify", "--quiet", base+"^{commit}"); err != nil {
		return nil, fmt.Errorf("%w: %s is not a commit of the repository at %s", ErrNoBase, base, projectDir)
	}
	args := []string{"diff", "--name-only", "--no-renames", "-z", "--relative", base}
	if rev != "" {
		args = append(args, rev)
	}
	out, err := g.output(ctx, append(args, "--", ".")...)
	if err != nil {
		return nil, err
	}
	files := splitZ(out)
	if rev == "" {
		untracked, err := g.output(ctx, "ls-files", "-z", "--others", "--exclude-standard", "--", ".")
		if err != nil {
			return nil, err
		}
		files = append(files, splitZ(untracked)...)
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// splitZ splits git's NUL-terminated output.
func splitZ(out []byte) []string {
	var files []string
	for f := range bytes.SplitSeq(out, []byte{0}) {
		if len(f) > 0 {
			files = append(files, string(f))
		}
	}
	return files
}
