package scaffold

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sampleProjects are minimal projects of each kind, the smallest a user
// would run `velocity init` in, none needing network access.
func sampleProjects() []struct {
	name    string
	files   map[string]string
	kind    Kind
	tools   []string
	actions []string
	// runs maps action names to their expected script.
	runs map[string]string
	// needs maps action names to their expected needs.
	needs map[string][]string
	// caches maps action names to their cache path and cache_key file.
	caches map[string][]string
} {
	return []struct {
		name    string
		files   map[string]string
		kind    Kind
		tools   []string
		actions []string
		runs    map[string]string
		needs   map[string][]string
		caches  map[string][]string
	}{
		{
			name: "go",
			files: map[string]string{
				"go.mod":       "module example.com/sample\n\ngo 1.22\n",
				"main.go":      "package main\n\nfunc main() { println(greet()) }\n\nfunc greet() string { return \"hi\" }\n",
				"main_test.go": "package main\n\nimport \"testing\"\n\nfunc TestGreet(t *testing.T) {\n\tif greet() != \"hi\" {\n\t\tt.Fatal(greet())\n\t}\n}\n",
			},
			kind:    Go,
			tools:   []string{"go"},
			actions: []string{"test", "vet", "build"},
			runs:    map[string]string{"test": "go test ./...", "vet": "go vet ./...", "build": "go build ./..."},
		},
		{
			name: "node without lockfile",
			files: map[string]string{
				"package.json": `{
  "name": "sample",
  "version": "1.0.0",
  "private": true,
  "scripts": {
    "test": "node --test",
    "lint": "node --check index.js",
    "build": "node -e \"require('fs').mkdirSync('dist', {recursive: true})\""
  }
}
`,
				"index.js":         "module.exports = (a, b) => a + b;\n",
				"test/add.test.js": "const test = require('node:test');\nconst assert = require('node:assert');\nconst add = require('../index.js');\ntest('add', () => assert.strictEqual(add(1, 2), 3));\n",
			},
			kind:    Node,
			tools:   []string{"node", "npm"},
			actions: []string{"test"},
			runs: map[string]string{
				"test": "npm install --no-audit --no-fund\nnpm run build\nnpm run test\nnpm run lint",
			},
			caches: map[string][]string{"test": {"node_modules", "package.json"}},
		},
		{
			// What `npm init -y && npm install` leaves: a lockfile and the
			// always-failing placeholder test script, which must be left out.
			name: "node with lockfile and npm init test",
			files: map[string]string{
				"package.json": `{
  "name": "sample",
  "version": "1.0.0",
  "scripts": {
    "test": "echo \"Error: no test specified\" && exit 1"
  }
}
`,
				"package-lock.json": `{
  "name": "sample",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "sample",
      "version": "1.0.0"
    }
  }
}
`,
			},
			kind:    Node,
			tools:   []string{"node", "npm"},
			actions: []string{"install"},
			runs:    map[string]string{"install": "npm install --prefer-offline --no-audit --no-fund"},
			caches:  map[string][]string{"install": {"node_modules", "package-lock.json"}},
		},
		{
			name: "python with unittest tests",
			files: map[string]string{
				"pyproject.toml": "[project]\nname = \"sample\"\nversion = \"0.1.0\"\ndependencies = []\n",
				"sample.py":      "def add(a, b):\n    return a + b\n",
				"tests/test_sample.py": "import unittest\n\nfrom sample import add\n\n\n" +
					"class AddTest(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n",
			},
			kind:    Python,
			tools:   []string{"python3"},
			actions: []string{"compile", "test"},
			runs: map[string]string{
				"compile": "python3 -m compileall -q .",
				"test":    "python3 -m unittest discover -s tests",
			},
		},
		{
			name: "python without tests",
			files: map[string]string{
				"requirements.txt": "# nothing yet\n",
				"app.py":           "print('hi')\n",
			},
			kind:    Python,
			tools:   []string{"python3"},
			actions: []string{"compile", "test"},
			runs: map[string]string{
				"compile": "python3 -m compileall -q .",
				"test":    "python3 -m unittest discover || [ $? -eq 5 ]",
			},
		},
		{
			name: "make",
			files: map[string]string{
				"Makefile": "CC ?= cc\nOUT := out\n\n.PHONY: build test\n\n" +
					"build: ## compile\n\tmkdir -p $(OUT) && touch $(OUT)/app\n\n" +
					"test:\n\t@echo tests pass\n\n%.o: %.c\n\t$(CC) -c $<\n",
			},
			kind:    Make,
			tools:   []string{"make"},
			actions: []string{"test"},
			runs:    map[string]string{"test": "make build test"},
		},
		{
			name: "rust",
			files: map[string]string{
				"Cargo.toml": "[package]\nname = \"sample\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
				"src/lib.rs": "pub fn add(a: i32, b: i32) -> i32 { a + b }\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(super::add(1, 2), 3); }\n}\n",
			},
			kind:    Rust,
			tools:   []string{"cargo"},
			actions: []string{"test"},
			runs:    map[string]string{"test": "cargo test"},
			caches:  map[string][]string{"test": {"target", "Cargo.toml"}},
		},
		{
			name: "script with bootstrap",
			files: map[string]string{
				"script/bootstrap": "mkdir -p vendor && echo 'add() { echo $(($1 + $2)); }' > vendor/lib.sh\n",
				"script/test":      "#!/bin/sh\n. vendor/lib.sh\n[ \"$(add 1 2)\" = 3 ]\n",
			},
			kind:    Script,
			actions: []string{"test"},
			runs:    map[string]string{"test": "sh script/bootstrap\nsh script/test"},
		},
		{
			name:    "generic",
			files:   map[string]string{"README": "nothing to build\n"},
			kind:    Generic,
			actions: []string{"placeholder"},
		},
	}
}

func TestGenerateSamples(t *testing.T) {
	for _, tc := range sampleProjects() {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sample-project")
			writeFiles(t, dir, tc.files)

			kind, text, err := Generate(dir)
			if err != nil {
				t.Fatal(err)
			}
			if kind != tc.kind {
				t.Fatalf("kind = %v, want %v", kind, tc.kind)
			}
			doc := parseDoc(t, text)
			for i, l := range strings.Split(string(text), "\n") {
				comment := strings.HasPrefix(strings.TrimSpace(l), "#")
				if strings.TrimRight(l, " ") != l || comment && len(l) > 80 {
					t.Errorf("line %d has trailing blanks or is a comment longer than 80 columns: %q", i+1, l)
				}
			}
			if doc.Name != "sample-project" {
				t.Errorf("name = %q, want the directory name", doc.Name)
			}
			stage := doc.Stages[0]
			if got := actionNames(stage); !slices.Equal(got, tc.actions) {
				t.Fatalf("actions = %q, want %q\n%s", got, tc.actions, text)
			}
			for _, a := range stage.Actions {
				if want, ok := tc.runs[a.Name]; ok && strings.TrimSpace(a.Run) != want {
					t.Errorf("action %q runs %q, want %q", a.Name, a.Run, want)
				}
				if !slices.Equal(a.Needs, tc.needs[a.Name]) {
					t.Errorf("action %q needs %q, want %q", a.Name, a.Needs, tc.needs[a.Name])
				}
				if got := append(slices.Clip(a.Cache), a.CacheKey...); !slices.Equal(got, tc.caches[a.Name]) {
					t.Errorf("action %q caches %q keyed by %q, want %q", a.Name, a.Cache, a.CacheKey, tc.caches[a.Name])
				}
			}
			if t.Failed() {
				t.Logf("generated:\n%s", text)
				return
			}

			needTools(t, append([]string{"bash"}, tc.tools...)...)
			runStage(t, dir, doc)
		})
	}
}

func TestGenerateGoWithoutPackagesSaysSo(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"go.mod": "module example.com/empty\n"})
	_, text, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "matched no packages") {
		t.Errorf("no note about the missing packages:\n%s", text)
	}
}

func TestGenerateNodeManagers(t *testing.T) {
	pkg := `{"scripts": {"test": "jest", "build": "tsc"}}`
	for _, tc := range []struct {
		lockfile, extra, run string
	}{
		{"yarn.lock", "", "yarn install --frozen-lockfile --prefer-offline\nyarn run build\nyarn run test\n"},
		{"yarn.lock", ".yarnrc.yml", "yarn install --immutable\nyarn run build\nyarn run test\n"},
		{"pnpm-lock.yaml", "", "pnpm install --frozen-lockfile --prefer-offline\npnpm run build\npnpm run test\n"},
	} {
		t.Run(tc.lockfile+tc.extra, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"package.json": pkg, tc.lockfile: ""}
			if tc.extra != "" {
				files[tc.extra] = ""
			}
			writeFiles(t, dir, files)
			_, text, err := Generate(dir)
			if err != nil {
				t.Fatal(err)
			}
			doc := parseDoc(t, text)
			acts := doc.Stages[0].Actions
			if got := actionNames(doc.Stages[0]); !slices.Equal(got, []string{"test"}) {
				t.Fatalf("actions = %q", got)
			}
			if acts[0].Run != tc.run {
				t.Errorf("test runs %q, want %q", acts[0].Run, tc.run)
			}
			if !slices.Equal(acts[0].Cache, []string{"node_modules"}) || !slices.Equal(acts[0].CacheKey, []string{tc.lockfile}) {
				t.Errorf("cache %q keyed by %q, want node_modules keyed by %s", acts[0].Cache, acts[0].CacheKey, tc.lockfile)
			}
			if !strings.Contains(string(text), `no "lint" script`) {
				t.Errorf("no note about the missing lint script:\n%s", text)
			}
		})
	}
}

func TestGenerateNodeRejectsBadPackageJSON(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"package.json": "{not json"})
	if _, _, err := Generate(dir); err == nil || !strings.Contains(err.Error(), "package.json") {
		t.Fatalf("err = %v, want a package.json parse error", err)
	}
}

// Dependencies need the network to install, so these plans are checked as
// text only.
// Dependencies need the network to install, so these plans are checked as
// text only.
func TestGeneratePythonDependencies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		test  []string // expected lines of the test script
		keys  []string
	}{
		{
			name: "requirements with pytest",
			files: map[string]string{
				"requirements.txt":  "requests==2.32.0\npytest>=8\n",
				"tests/test_x.py":   "def test_x():\n    assert True\n",
				"tests/conftest.py": "",
			},
			test: []string{
				"[ -x .venv/bin/python ] || python3 -m venv .venv",
				".venv/bin/python -m pip install --disable-pip-version-check -r requirements.txt",
				".venv/bin/python -m pytest",
			},
			keys: []string{"requirements.txt"},
		},
		{
			name: "pyproject extra with pytest",
			files: map[string]string{
				"pyproject.toml": "[project]\nname = \"x\"\ndependencies = [\n  \"httpx[http2]>=0.27\",  # client\n]\n\n" +
					"[project.optional-dependencies]\ndocs = [\"sphinx\"]\ntest = [\n  \"pytest>=8\",\n  \"pytest-cov\",\n]\n",
			},
			test: []string{
				"[ -x .venv/bin/python ] || python3 -m venv .venv",
				".venv/bin/python -m pip install --disable-pip-version-check '.[test]'",
				".venv/bin/python -m pytest || [ $? -eq 5 ]",
			},
			keys: []string{"pyproject.toml"},
		},
		{
			name: "pytest-style tests without declaring pytest",
			files: map[string]string{
				"setup.py":            "from setuptools import setup\nsetup(name='x')\n",
				"tests/test_plain.py": "def test_plain():\n    assert 1 + 1 == 2\n",
			},
			test: []string{
				"[ -x .venv/bin/python ] || python3 -m venv .venv",
				".venv/bin/python -m pip install --disable-pip-version-check pytest",
				".venv/bin/python -m pytest",
			},
			keys: []string{"setup.py"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			kind, text, err := Generate(dir)
			if err != nil {
				t.Fatal(err)
			}
			if kind != Python {
				t.Fatalf("kind = %v", kind)
			}
			doc := parseDoc(t, text)
			if got := actionNames(doc.Stages[0]); !slices.Equal(got, []string{"compile", "test"}) {
				t.Fatalf("actions = %q\n%s", got, text)
			}
			acts := doc.Stages[0].Actions
			if got := strings.Split(strings.TrimSpace(acts[1].Run), "\n"); !slices.Equal(got, tc.test) {
				t.Errorf("test script = %q, want %q", got, tc.test)
			}
			if !slices.Equal(acts[1].Cache, []string{".venv"}) || !slices.Equal(acts[1].CacheKey, tc.keys) {
				t.Errorf("test caches %q keyed by %q, want .venv keyed by %q", acts[1].Cache, acts[1].CacheKey, tc.keys)
			}
			if len(acts[0].Needs) > 0 || len(acts[1].Needs) > 0 {
				t.Errorf("needs %q and %q, want none: no action uses another's files", acts[0].Needs, acts[1].Needs)
			}
			if !strings.Contains(acts[0].Run, `-x '/\.venv/'`) {
				t.Errorf("compile %q doesn't skip the virtual environment", acts[0].Run)
			}
		})
	}
}

// TestGeneratePythonLockedTools: a project locked with uv or Poetry gets
// that tool when it is installed, pip in .venv (and a note) otherwise.
func TestGeneratePythonLockedTools(t *testing.T) {
	for _, tc := range []struct {
		tool, lockfile, setup string
		env                   map[string]string
	}{
		{"uv", "uv.lock", "uv sync --frozen", nil},
		{"poetry", "poetry.lock", "poetry install --no-interaction", map[string]string{"POETRY_VIRTUALENVS_IN_PROJECT": "true"}},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"pyproject.toml":  "[project]\nname = \"x\"\ndependencies = [\"attrs\"]\n\n[dependency-groups]\ndev = [\"pytest\"]\n",
				tc.lockfile:       "",
				"tests/test_x.py": "def test_x():\n    assert True\n",
			})
			bin := t.TempDir()
			t.Setenv("PATH", bin)
			_, text, err := Generate(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(text), tc.tool+" is not installed here") {
				t.Errorf("no note that %s is missing:\n%s", tc.tool, text)
			}
			if strings.Contains(string(text), tc.setup) {
				t.Errorf("%s used although it is not installed:\n%s", tc.tool, text)
			}

			// The tool on PATH: any executable of that name will do.
			writeFiles(t, bin, map[string]string{tc.tool: "#!/bin/sh\n"})
			os.Chmod(filepath.Join(bin, tc.tool), 0o755)
			_, text, err = Generate(dir)
			if err != nil {
				t.Fatal(err)
			}
			test := parseDoc(t, text).Stages[0].Actions[1]
			want := tc.setup + "\n.venv/bin/python -m pytest\n"
			if test.Run != want || !slices.Equal(test.CacheKey, []string{tc.lockfile}) || !maps.Equal(test.Env, tc.env) {
				t.Errorf("test runs %q keyed by %q with env %v; want %q keyed by %s with env %v",
					test.Run, test.CacheKey, test.Env, want, tc.lockfile, tc.env)
			}
		})
	}
}

// TestGenerateJava: Maven and Gradle projects, with and without the
// wrapper script, get one action with the right command.
func TestGenerateJava(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		name  string
		run   string
	}{
		{map[string]string{"pom.xml": "<project/>"}, "verify", "mvn -B -ntp verify"},
		{map[string]string{"pom.xml": "<project/>", "mvnw": "#!/bin/sh\n"}, "verify", "./mvnw -B -ntp verify"},
		{map[string]string{"build.gradle.kts": ""}, "build", "gradle --no-daemon build"},
		{map[string]string{"settings.gradle": "", "gradlew": "#!/bin/sh\n"}, "build", "./gradlew --no-daemon build"},
	} {
		dir := t.TempDir()
		writeFiles(t, dir, tc.files)
		for _, w := range []string{"mvnw", "gradlew"} {
			os.Chmod(filepath.Join(dir, w), 0o755)
		}
		kind, text, err := Generate(dir)
		if err != nil {
			t.Fatal(err)
		}
		acts := parseDoc(t, text).Stages[0].Actions
		if kind != Java || len(acts) != 1 || acts[0].Name != tc.name || acts[0].Run != tc.run {
			t.Errorf("%v: kind %v, actions %+v; want one %q running %q", tc.files, kind, acts, tc.name, tc.run)
		}
	}
}

func TestGeneratePythonTestsPackage(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"setup.py":            "",
		"tests/__init__.py":   "",
		"tests/test_a.py":     "import unittest\n",
		"tests/sub/test_b.py": "from unittest import TestCase\n",
	})
	_, text, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	doc := parseDoc(t, text)
	test := doc.Stages[0].Actions[len(doc.Stages[0].Actions)-1]
	if want := "python3 -m unittest discover -s tests -t ."; test.Run != want {
		t.Errorf("test runs %q, want %q", test.Run, want)
	}
}

func TestGenerateQuotesOddNames(t *testing.T) {
	for _, name := range []string{"true", "123", "my project", "a: b", "#x", "it's"} {
		dir := filepath.Join(t.TempDir(), name)
		writeFiles(t, dir, map[string]string{"go.mod": "module x\n", "x.go": "package x\n"})
		_, text, err := Generate(dir)
		if err != nil {
			t.Fatal(err)
		}
		if doc := parseDoc(t, text); doc.Name != name {
			t.Errorf("name = %q, want %q", doc.Name, name)
		}
	}
}
