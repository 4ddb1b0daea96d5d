package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChanged(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "other/x", "x", 0o644)
	write(t, repo, "app/main.go", "package main", 0o644)
	write(t, repo, "app/docs/a.md", "a", 0o644)
	write(t, repo, "app/.gitignore", "*.log\n", 0o644)
	base := commitAll(t, repo, "one")
	app := filepath.Join(repo, "app")
	ctx := context.Background()

	changed := func(base, rev string) string {
		t.Helper()
		files, err := Changed(ctx, app, base, rev)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(files, " ")
	}
	if got := changed(base, ""); got != "" {
		t.Errorf("clean work tree: changed %q", got)
	}
	// Work tree: modified, untracked, deleted; ignored files and files
	// outside the project do not count.
	write(t, repo, "app/docs/a.md", "b", 0o644)
	write(t, repo, "app/docs/new.md", "n", 0o644)
	write(t, repo, "app/build.log", "l", 0o644)
	write(t, repo, "other/x", "y", 0o644)
	if err := os.Remove(filepath.Join(app, "main.go")); err != nil {
		t.Fatal(err)
	}
	if got, want := changed(base, ""), "docs/a.md docs/new.md main.go"; got != want {
		t.Errorf("work tree: changed %q, want %q", got, want)
	}
	second := commitAll(t, repo, "two")
	if got, want := changed(base, second), "docs/a.md docs/new.md main.go"; got != want {
		t.Errorf("commit: changed %q, want %q", got, want)
	}
	if got := changed(second, second); got != "" {
		t.Errorf("same commit: changed %q", got)
	}
	for _, bad := range []string{"0123456789abcdef0123456789abcdef01234567", "", "--output=x"} {
		if _, err := Changed(ctx, app, bad, ""); !errors.Is(err, ErrNoBase) {
			t.Errorf("base %q: err = %v, want ErrNoBase", bad, err)
		}
	}
	if _, err := Changed(ctx, t.TempDir(), base, ""); !errors.Is(err, ErrNoBase) {
		t.Errorf("not a repository: err = %v, want ErrNoBase", err)
	}
}
