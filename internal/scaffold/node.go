package scaffold

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// packageJSON is the part of package.json that decides the actions.
type packageJSON struct {
	Scripts map[string]string `json:"scripts"`
}

// nodeManager is how a Node project installs its dependencies and runs
// its scripts, chosen from the lockfile it commits.
type nodeManager struct {
	tool     string
	lockfile string
	install  string
	run      string
}

// nodeManagers are tried in order; the first whose lockfile exists wins.
//
// Every install keeps a node_modules restored from the dependency cache
// and only reconciles it with the lockfile; that is why npm gets "npm
// install" rather than "npm ci", which deletes node_modules and installs
// everything again. npm install still installs exactly what
// package-lock.json pins as long as package.json agrees with it.
// Measured on a project with 422 packages (12,162 files, 138 MB), with
// npm's own cache in ~/.npm warm: npm ci 40 s; npm install without
// node_modules 18.7 s; restoring node_modules 11-14 s (cp -a of it takes
// 14 s on that file system) plus npm install over it 1-4 s. Where ~/.npm
// is cold or not shared (containers), the install's downloads are saved.
func nodeManagers() []nodeManager {
	return []nodeManager{
		{tool: "npm", lockfile: "package-lock.json", install: "npm install --prefer-offline --no-audit --no-fund", run: "npm run"},
		{tool: "pnpm", lockfile: "pnpm-lock.yaml", install: "pnpm install --frozen-lockfile --prefer-offline", run: "pnpm run"},
		{tool: "yarn", lockfile: "yarn.lock", install: "yarn install --frozen-lockfile --prefer-offline", run: "yarn run"},
	}
}

// yarnBerryInstall replaces yarn's install for Yarn 2 and later (a
// .yarnrc.yml), which renamed --frozen-lockfile.
const yarnBerryInstall = "yarn install --immutable"

// nodeScripts are the package.json scripts the action runs, in order:
// build first, as tests often import the built files; lint last, so that
// a style complaint doesn't hide a test result.
func nodeScripts() []string { return []string{"build", "test", "lint"} }

// npmInitTest is part of the placeholder test script `npm init` writes,
// which always fails; running it would make the first run red for no
// reason of the user's.
const npmInitTest = "Error: no test specified"

// nodePlan builds the plan for a Node project: one action that installs
// the dependencies into node_modules, kept as a dependency cache keyed by
// the lockfile, and runs the build, test and lint scripts.
//
// Install and scripts are one action because they share node_modules. As
// separate actions, the install's result would come from the result cache
// on the next run (or be kept by rerun --failed) without node_modules,
// which is no output, and the tests would fail with "command not found"
// instead of their real failure; declaring node_modules as an output
// instead would store and restore its thousands of files on every run.
// A cache path is restored whenever the action executes, and an
// unchanged action doesn't execute at all.
func nodePlan(dir string) (plan, error) {
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return plan{}, fmt.Errorf("read package.json: %w", err)
	}
	var pkg packageJSON
	if err := json.Unmarshal(data, &pkg); err != nil {
		return plan{}, fmt.Errorf("parse package.json: %w", err)
	}

	mgr := nodeManager{tool: "npm", install: "npm install --no-audit --no-fund", run: "npm run"}
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
	if mgr.tool == "yarn" {
		if berry, err := anyExists(dir, ".yarnrc.yml"); err != nil {
			return plan{}, err
		} else if berry {
			mgr.install = yarnBerryInstall
		}
	}

	p := plan{
		kind:       Node,
		found:      "package.json",
		envExample: "NODE_OPTIONS: --max-old-space-size=4096",
	}
	if _, err := exec.LookPath(mgr.tool); err != nil {
		p.notes = append(p.notes,
			fmt.Sprintf("%s (for %s) is not on PATH here: install it, or run", mgr.tool, mgr.lockfile),
			"`corepack enable`, before `velocity run`.")
	}

	script := []string{mgr.install}
	var ran, missing []string
	for _, name := range nodeScripts() {
		body := strings.TrimSpace(pkg.Scripts[name])
		switch {
		case body == "":
			missing = append(missing, name)
			continue
		case name == "test" && strings.Contains(body, npmInitTest):
			p.notes = append(p.notes,
				"package.json's \"test\" script is npm init's placeholder, which always",
				"fails, so it is not run; add it to the action once there are tests.")
			continue
		}
		ran = append(ran, name)
		script = append(script, mgr.run+" "+name)
	}
	if len(missing) > 0 {
		p.notes = append(p.notes, fmt.Sprintf(
			"package.json has no %s script; add it to the action when it does.",
			strings.Join(quoteAll(missing), "/")))
	}

	name := "install"
	if slices.Contains(ran, "test") {
		name = "test"
	} else if len(ran) > 0 {
		name = ran[0]
	}
	what := "Install the dependencies"
	if mgr.lockfile != "" {
		what += " pinned in " + mgr.lockfile
	}
	if len(ran) > 0 {
		what += ", then run the " + strings.Join(quoteAll(ran), ", ") + " " + plural(len(ran), "script")
	}
	cacheKey := mgr.lockfile
	if cacheKey == "" {
		cacheKey = "package.json"
	}
	a := action{
		name: name,
		comment: what + ". One action, because the scripts need node_modules: " +
			"a separate install action taken from the result cache would not bring " +
			"node_modules back.",
		run:      strings.Join(script, "\n") + "\n",
		cache:    []string{"node_modules"},
		cacheKey: []string{cacheKey},
		cacheComment: "node_modules is kept between runs: restored before the action " +
			"executes (the entry saved for this " + cacheKey + ", else the newest) and " +
			"saved after it succeeds, so the install only fetches what changed.",
	}
	if len(ran) > 0 {
		a.timeout = testTimeout
	}
	p.actions = append(p.actions, a)
	return p, nil
}

// plural adds an "s" to word unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// quoteAll returns names in double quotes, for messages.
func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = `"` + n + `"`
	}
	return out
}
