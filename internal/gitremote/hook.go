package gitremote

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A push learns which refs it changed from git itself: receive-pack runs
// the post-receive hook with one line "OLD NEW REF" per ref it updated,
// after the update, for this push alone. Comparing the refs before and
// after would also count what a fetch or another push changed meanwhile.
//
// The hook lives in the repository (hooksDir) and is given to
// receive-pack by core.hooksPath in the environment, so that hooks the
// repository came with never run; it appends its input to the file named
// by pushLogVar, one file per push.

const (
	hooksDir   = "velocity-hooks"
	pushLogVar = "VELOCITY_PUSH_LOG"
)

const hookScript = `#!/bin/sh
# Written by velocity: tells the git remote which refs a push changed.
if [ -n "$` + pushLogVar + `" ]; then
	exec cat >>"$` + pushLogVar + `"
fi
exit 0
`

// installHook writes the post-receive hook into repository dir unless it
// is there already, and returns the hooks directory. Two pushes may
// install it at once: each writes its own file and renames it into place.
func installHook(dir string) (string, error) {
	hooks := filepath.Join(dir, hooksDir)
	path := filepath.Join(hooks, "post-receive")
	if b, err := os.ReadFile(path); err == nil && string(b) == hookScript {
		return hooks, nil
	}
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return "", fmt.Errorf("install the push hook: %w", err)
	}
	f, err := os.CreateTemp(hooks, ".post-receive-*")
	if err != nil {
		return "", fmt.Errorf("install the push hook: %w", err)
	}
	_, err = f.WriteString(hookScript)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o755)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("install the push hook: %w", err)
	}
	return hooks, nil
}

// hookEnv is the environment that makes receive-pack run the hook and
// the hook write to log.
func hookEnv(hooks, log string) []string {
	return []string{
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=core.hooksPath",
		"GIT_CONFIG_VALUE_0=" + hooks,
		pushLogVar + "=" + log,
	}
}

// readPushLog reads the hook's lines: the refs the push changed, a
// created ref's Before and a deleted ref's After all zeros as git
// reports them.
func readPushLog(path string) ([]RefUpdate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the refs the push changed: %w", err)
	}
	var updates []RefUpdate
	for line := range bytes.SplitSeq(bytes.TrimSpace(b), []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) != 3 {
			continue
		}
		updates = append(updates, RefUpdate{Ref: f[2], Before: f[0], After: f[1]})
	}
	return updates, nil
}
