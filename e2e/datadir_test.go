package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// freshEnv is an env whose data directory does not exist yet, so that
// velocity creates it (t.TempDir would have made it already, 0700).
func freshEnv(t *testing.T) *env {
	return &env{t: t, home: filepath.Join(t.TempDir(), "data")}
}

// assertPrivate walks the data directory and fails for every file or
// directory that gives its group or others any permission, and when one of
// the names in want is missing (so that the walk shows what it claims).
func assertPrivate(t *testing.T, home string, want ...string) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while we walk (a finished attempt's files)
			}
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(home, p)
		seen[rel] = true
		// A workspace holds the project's files with the project's own
		// modes (they are part of the snapshot and of cache keys); the
		// 0700 workspace directory above them is what keeps them private,
		// and it is checked.
		inWorkspace := strings.Count(rel, string(filepath.Separator)) >= 2 &&
			strings.HasPrefix(rel, "workspaces"+string(filepath.Separator))
		// A symlink's own mode is always 0777 and grants nothing.
		if !inWorkspace && fi.Mode()&fs.ModeSymlink == 0 && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: the data directory's contents must be the owner's alone", rel, fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		found := false
		for rel := range seen {
			if ok, _ := filepath.Match(w, rel); ok {
				found = true
			}
		}
		if !found {
			names := make([]string, 0, len(seen))
			for rel := range seen {
				names = append(names, rel)
			}
			t.Errorf("nothing matches %s in the data directory; it has %s", w, strings.Join(names, " "))
		}
	}
}

func TestDataDirectoryOfARunIsPrivate(t *testing.T) {
	e := freshEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - name: make
        run: mkdir -p out/sub && echo hi > out/sub/a.txt && printf '#!/bin/sh\n' > out/run.sh && chmod 755 out/run.sh
        outputs: [out]
        cache: [.dep]
      - name: use
        needs: [make]
        sidecars:
          - { name: helper, run: exec sleep 300, ready: "true" }
        run: test -x out/run.sh && cat out/sub/a.txt
`})
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	assertPrivate(t, e.home, ".", "velocity.db", "logs/*/build/make.1.log", "blobs/*")
}

func TestDataDirectoryOfServeAndDeployIsPrivate(t *testing.T) {
	requireTool(t, "python3")
	requireTool(t, "curl")
	e := freshEnv(t)
	srv := startServer(t, e)
	r := e.run(serviceProject(t), "run")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s%s\nserver:\n%s", r.code, r.stdout, r.stderr, srv.out)
	}
	assertPrivate(t, e.home, "velocity.db", "velocity.db-wal", "velocity.sock", "*/prod/api/*/out/app.py")
}

func TestDataDirectoryOfAWorkflowIsPrivate(t *testing.T) {
	e := freshEnv(t)
	dir := project(t, map[string]string{"hello.asl.json": `{"StartAt": "Say", "States": {
		"Say": {"Type": "Task", "Resource": "arn:velocity:command", "Parameters": {"Command": "echo '{\"said\": \"hello\"}'"}, "End": true}}}`})
	r := e.run(dir, "workflow", "start", "hello.asl.json")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	assertPrivate(t, e.home, ".", "velocity.db")
}

// A data directory an older velocity made 0755 is made private when it is
// next opened.
func TestExistingDataDirectoryIsMadePrivate(t *testing.T) {
	e := freshEnv(t)
	if err := os.Mkdir(e.home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.home, 0o755); err != nil {
		t.Fatal(err)
	}
	if r := e.run(t.TempDir(), "runs"); r.code != 0 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	fi, err := os.Stat(e.home)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory is %v after velocity opened it, want 0700", perm)
	}
}
