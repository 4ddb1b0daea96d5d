package scaffold

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// packageJSON is the part of package.json that decides the actions.
type packageJSON struct {
	Scripts map[string]string `json:"scripts"`
}

// nodeManager is how a Node project installs its dependencies and runs
// its scripts, chosen from the lockfile it commits.
type nodeManager struct {
	lockfile string
	install  string
	run      string
}

// nodeManagers are tried in order; the first whose lockfile exists wins.
// A project without any lockfile gets npm install, which creates one.
func nodeManagers() []nodeManager {
	return []nodeManager{
		{lockfile: "package-lock.json", install: "npm ci --no-audit --no-fund", run: "npm run"},
		{lockfile: "yarn.lock", install: "yarn install --frozen-lockfile", run: "yarn run"},
		{lockfile: "pnpm-lock.yaml", install: "pnpm install --frozen-lockfile", run: "pnpm run"},
	}
}

// nodeScripts are the package.json scripts turned into actions, in order.
func nodeScripts() []struct{ name, comment string } {
	return []struct{ name, comment string }{
		{"test", "Run the \"test\" script of package.json."},
		{"lint", "Run the \"lint\" script of package.json."},
		{"build", "Run the \"build\" script of package.json."},
	}
}

// npmInitTest is part of the placeholder test script `npm init` writes,
// which always fails; running it would make the first run red for no
// reason of the user's.
const npmInitTest = "Error: no test specified"

// nodePlan builds the plan for a Node project: install dependencies, then
// run its test, lint and build scripts in parallel.
func nodePlan(dir string) (plan, error) {
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return plan{}, fmt.Errorf("read package.json: %w", err)
	}
	var pkg packageJSON
	if err := json.Unmarshal(data, &pkg); err != nil {
		return plan{}, fmt.Errorf("parse package.json: %w", err)
	}

	mgr := nodeManager{install: "npm install --no-audit --no-fund", run: "npm run"}
	for _, m := range nodeManagers() {
		ok, err := anyExists(dir, m.lockfile)
		if err != nil {
			return plan{}, err
		}
		if ok {
			mgr = m
			break
		}
	}

	p := plan{
		kind:       Node,
		found:      "package.json",
		envExample: "NODE_OPTIONS: --max-old-space-size=4096",
	}
	installComment := "Install dependencies as package.json declares them (no lockfile found)."
	if mgr.lockfile != "" {
		installComment = "Install exactly the dependencies pinned in " + mgr.lockfile + "."
	}
	p.actions = append(p.actions, action{
		name:    "install",
		comment: installComment,
		run:     mgr.install,
		retry:   installRetry,
	})

	var missing []string
	for _, s := range nodeScripts() {
		script := strings.TrimSpace(pkg.Scripts[s.name])
		switch {
		case script == "":
			missing = append(missing, s.name)
			continue
		case strings.Contains(script, npmInitTest):
			p.notes = append(p.notes,
				"package.json's \"test\" script is npm init's placeholder, which always",
				"fails, so there is no test action; add one once there are tests.")
			continue
		}
		a := action{
			name:    s.name,
			comment: s.comment,
			run:     mgr.run + " " + s.name,
			needs:   []string{"install"},
		}
		if s.name == "test" {
			a.timeout = testTimeout
		}
		p.actions = append(p.actions, a)
	}
	if len(missing) > 0 {
		p.notes = append(p.notes, fmt.Sprintf(
			"package.json has no %s script; add an action here when it does.",
			strings.Join(quoteAll(missing), "/")))
	}
	return p, nil
}

// quoteAll returns names in double quotes, for messages.
func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = `"` + n + `"`
	}
	return out
}
