package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// pythonMarkers are the files that make a directory a Python project.
func pythonMarkers() []string { return []string{"pyproject.toml", "setup.py", "requirements.txt"} }

// requirementFiles are pip requirement files installed when they list
// anything; the extra names are common homes of test-only dependencies.
func requirementFiles() []string {
	return []string{"requirements.txt", "requirements-dev.txt", "requirements-test.txt", "dev-requirements.txt", "test-requirements.txt"}
}

// venvPython is the interpreter of the virtual environment the test action
// creates. Calling it by path works in any shell and in a .venv restored
// at another path, where the activate script's absolute paths would not.
const venvPython = ".venv/bin/python"

// pythonProject is what the plan needs to know about a Python project.
type pythonProject struct {
	marker string
	// requirements are requirement files with at least one entry.
	requirements []string
	// installSelf is the pip argument installing the project itself ("."
	// or ".[extra]"), "" when it declares no dependencies.
	installSelf string
	// pytest is set when tests should run under pytest.
	pytest bool
	// pytestInstalled is set when requirements or installSelf bring pytest.
	pytestInstalled bool
	// testsDir is "tests" or "test" when that directory holds test files.
	testsDir string
	// testsPackage is set when testsDir has an __init__.py.
	testsPackage bool
	// hasTests is set when any test file was found.
	hasTests bool
	// testsUseUnittest is set when every test file found uses unittest.
	testsUseUnittest bool
}

// mentionsPytest reports whether text names pytest as a dependency or
// configuration ("pytest>=8", [tool.pytest.ini_options], [tool:pytest]),
// but not only a plugin like pytest-cov.
func mentionsPytest(text string) bool {
	return regexp.MustCompile(`(?m)(^|["'\s\[.:])pytest($|[\s"'<>=!~;,.\[\]])`).MatchString(text)
}

// pythonTool is how a Python project's dependencies get into .venv.
type pythonTool struct {
	name string
	// setup lines create or update .venv.
	setup []string
	// lockfile keys the dependency cache; "" keys it by the project files.
	lockfile string
	env      map[string]string
}

// pythonTools returns uv or Poetry when the project locks its
// dependencies with one and the tool is installed here; otherwise pip in
// a virtual environment (the caller decides whether one is needed).
func pythonTools(dir string) ([]pythonTool, error) {
	var out []pythonTool
	if ok, err := anyExists(dir, "uv.lock"); err != nil {
		return nil, err
	} else if ok {
		out = append(out, pythonTool{name: "uv", lockfile: "uv.lock",
			// --frozen installs exactly uv.lock, and fails rather than
			// rewrite it when pyproject.toml disagrees.
			setup: []string{"uv sync --frozen"}})
	}
	if ok, err := anyExists(dir, "poetry.lock"); err != nil {
		return nil, err
	} else if ok {
		out = append(out, pythonTool{name: "poetry", lockfile: "poetry.lock",
			setup: []string{"poetry install --no-interaction"},
			// The environment must live in the workspace to be cached.
			env: map[string]string{"POETRY_VIRTUALENVS_IN_PROJECT": "true"}})
	}
	return out, nil
}

// pythonPlan builds the plan for a Python project: a byte-compile check,
// and the tests, in parallel. When the project declares dependencies, the
// test action installs them into .venv first, kept as a dependency cache.
//
// Install and tests are one action for the same reason as in nodePlan: a
// separate install action taken from the result cache (or kept by rerun
// --failed) would leave no .venv, and the tests would fail with
// ".venv/bin/python: No such file or directory" instead of their real
// failure. As a cache path, .venv is restored whenever the action
// executes, so pip only installs what changed; an unchanged action
// doesn't execute at all.
func pythonPlan(dir string) (plan, error) {
	py, err := inspectPython(dir)
	if err != nil {
		return plan{}, err
	}
	p := plan{
		kind:       Python,
		found:      py.marker,
		envExample: "PYTHONWARNINGS: default",
	}

	python := "python3"
	var setup, keys []string
	var env map[string]string
	tools, err := pythonTools(dir)
	if err != nil {
		return plan{}, err
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t.name); err != nil {
			p.notes = append(p.notes, fmt.Sprintf("%s is not installed here, so the dependencies go into .venv with pip", t.name),
				fmt.Sprintf("instead of following %s; with %s installed, `velocity init --force` uses it.", t.lockfile, t.name))
			continue
		}
		setup, keys, env = t.setup, []string{t.lockfile}, t.env
		break
	}
	if setup == nil {
		var install []string
		for _, r := range py.requirements {
			install = append(install, "-r "+r)
		}
		if py.installSelf != "" {
			install = append(install, shellQuote(py.installSelf))
		}
		if py.pytest && !py.pytestInstalled {
			install = append(install, "pytest")
		}
		if len(install) > 0 {
			// A .venv restored from the cache is reused; one whose
			// interpreter is gone (Python upgraded) is made again.
			setup = append(setup, "[ -x .venv/bin/python ] || python3 -m venv .venv")
			for _, arg := range install {
				setup = append(setup, fmt.Sprintf("%s -m pip install --disable-pip-version-check %s", venvPython, arg))
			}
			keys = py.requirements
			for _, f := range []string{"pyproject.toml", "setup.py", "setup.cfg"} {
				if ok, err := anyExists(dir, f); err != nil {
					return plan{}, err
				} else if ok {
					keys = append(keys, f)
				}
			}
		}
	}
	if setup != nil {
		python = venvPython
	}

	compile := "python3 -m compileall -q ."
	if python == venvPython {
		// Installed packages aren't the project's code to check.
		compile = `python3 -m compileall -q -x '/\.venv/' .`
	}
	p.actions = append(p.actions, action{
		name:    "compile",
		comment: "Byte-compile every module: catches syntax errors, even in untested files.",
		run:     compile,
	})

	var test string
	if py.pytest {
		test = python + " -m pytest"
	} else {
		test = python + " -m unittest discover"
		switch {
		case py.testsDir != "" && py.testsPackage:
			test += " -s " + py.testsDir + " -t ."
		case py.testsDir != "":
			// Since Python 3.11, discovery from "." doesn't enter
			// directories without __init__.py.
			test += " -s " + py.testsDir
		}
	}
	testComment := "Run the tests."
	if !py.hasTests {
		// Both runners exit 5 when they find no test (unittest since
		// Python 3.12); a project without tests yet shouldn't fail.
		test += " || [ $? -eq 5 ]"
		testComment = "Run the tests. No test was found yet: exit status 5 (no tests) is\n" +
			"accepted until there are some; then drop the `|| [ $? -eq 5 ]`."
	}
	a := action{
		name:    "test",
		comment: testComment,
		run:     test,
		timeout: testTimeout,
	}
	if setup != nil {
		a.comment = "Install the dependencies into .venv, then run the tests. One action, " +
			"because the tests need .venv: a separate install action taken from the " +
			"result cache would not bring .venv back."
		if !py.hasTests {
			a.comment += " No test was found yet: exit status 5 (no tests) is accepted " +
				"until there are some; then drop the `|| [ $? -eq 5 ]`."
		}
		a.run = strings.Join(append(slices.Clip(setup), test), "\n") + "\n"
		a.env = env
		a.cache = []string{".venv"}
		a.cacheKey = keys
		a.cacheComment = ".venv is kept between runs: restored before the action executes " +
			"(the entry saved for these files' contents, else the newest) and saved " +
			"after it succeeds, so only what changed is installed."
	}
	p.actions = append(p.actions, a)
	return p, nil
}

// inspectPython gathers what pythonPlan needs from the project's files.
func inspectPython(dir string) (pythonProject, error) {
	var py pythonProject
	var err error
	if py.marker, err = firstExisting(dir, pythonMarkers()...); err != nil {
		return py, err
	}
	for _, name := range requirementFiles() {
		text, err := readOptional(dir, name)
		if err != nil {
			return py, err
		}
		if !hasRequirement(text) {
			continue
		}
		py.requirements = append(py.requirements, name)
		if mentionsPytest(text) {
			py.pytest, py.pytestInstalled = true, true
		}
	}

	pyproject, err := readOptional(dir, "pyproject.toml")
	if err != nil {
		return py, err
	}
	setupPy, err := readOptional(dir, "setup.py")
	if err != nil {
		return py, err
	}
	setupCfg, err := readOptional(dir, "setup.cfg")
	if err != nil {
		return py, err
	}
	arrays := tomlArrays(pyproject)
	if deps := arrays["project"]["dependencies"]; strings.ContainsAny(deps, `"'`) ||
		strings.Contains(setupPy, "install_requires") || strings.Contains(setupCfg, "install_requires") {
		py.installSelf = "."
	}
	extras := arrays["project.optional-dependencies"]
	for _, name := range sortedKeys(extras) {
		if mentionsPytest(extras[name]) {
			py.installSelf = ".[" + name + "]"
			py.pytest, py.pytestInstalled = true, true
			break
		}
	}
	if mentionsPytest(pyproject) || mentionsPytest(setupPy) || mentionsPytest(setupCfg) {
		py.pytest = true
	}
	if ok, err := anyExists(dir, "pytest.ini", "conftest.py"); err != nil {
		return py, err
	} else if ok {
		py.pytest = true
	}

	if err := findPythonTests(dir, &py); err != nil {
		return py, err
	}
	// Plain test functions and bare asserts are pytest style; unittest
	// would find nothing in them.
	if py.hasTests && !py.testsUseUnittest {
		py.pytest = true
	}
	return py, nil
}

// findPythonTests looks for test files in tests/ or test/ (recursively),
// else at the top level.
func findPythonTests(dir string, py *pythonProject) error {
	py.testsUseUnittest = true
	visit := func(path string) error {
		name := filepath.Base(path)
		if !strings.HasSuffix(name, ".py") || !(strings.HasPrefix(name, "test_") || strings.HasSuffix(name, "_test.py")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read test file: %w", err)
		}
		py.hasTests = true
		if !strings.Contains(string(data), "unittest") {
			py.testsUseUnittest = false
		}
		return nil
	}
	for _, sub := range []string{"tests", "test"} {
		root := filepath.Join(dir, sub)
		if info, err := os.Stat(root); err != nil || !info.IsDir() {
			continue
		}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "__pycache__") {
					return filepath.SkipDir
				}
				return nil
			}
			return visit(path)
		})
		if err != nil {
			return fmt.Errorf("look for Python tests: %w", err)
		}
		if py.hasTests {
			py.testsDir = sub
			py.testsPackage, err = anyExists(root, "__init__.py")
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("look for Python tests: %w", err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := visit(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasRequirement reports whether a requirements file lists anything.
func hasRequirement(text string) bool {
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return true
		}
	}
	return false
}

// readOptional returns the content of dir/name, or "" when it doesn't exist.
func readOptional(dir, name string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return string(data), nil
}

// tomlArrays extracts the array values of a TOML document as raw text,
// by table and key. It is not a TOML parser: it understands just enough
// (tables, keys, arrays spanning lines, strings with brackets inside) to
// find dependency lists in pyproject.toml without a TOML dependency.
func tomlArrays(text string) map[string]map[string]string {
	out := map[string]map[string]string{}
	table := ""
	var key string
	var value strings.Builder
	depth := 0
	for line := range strings.Lines(text) {
		if depth == 0 {
			t := strings.TrimSpace(line)
			if strings.HasPrefix(t, "[") {
				table = strings.Trim(t, "[] \t")
				continue
			}
			k, v, ok := strings.Cut(t, "=")
			if !ok || !strings.HasPrefix(strings.TrimSpace(v), "[") {
				continue
			}
			key = strings.Trim(strings.TrimSpace(k), `"'`)
			value.Reset()
			line = strings.TrimSpace(v)
		}
		depth = scanBrackets(line, depth, &value)
		if depth == 0 {
			if out[table] == nil {
				out[table] = map[string]string{}
			}
			out[table][key] = value.String()
		}
	}
	return out
}

// scanBrackets appends line to value, tracking the nesting of brackets
// outside strings and stopping at a comment; it returns the new depth.
func scanBrackets(line string, depth int, value *strings.Builder) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote && (quote == '\'' || i == 0 || line[i-1] != '\\') {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return depth
		case c == '[':
			depth++
		case c == ']':
			depth--
		}
		value.WriteByte(c)
		if depth == 0 {
			return 0
		}
	}
	return depth
}

// sortedKeys returns the keys of m in order, so output is deterministic.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// shellQuote quotes s for bash when it holds characters the shell would
// interpret, e.g. the brackets of ".[test]".
func shellQuote(s string) string {
	if strings.ContainsAny(s, "[]*?$`\"'\\ \t\n;&|<>(){}!#~") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
