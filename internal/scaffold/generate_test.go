package scaffold

import (
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
} {
	return []struct {
		name    string
		files   map[string]string
		kind    Kind
		tools   []string
		actions []string
		runs    map[string]string
		needs   map[string][]string
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
			actions: []string{"install", "test", "lint", "build"},
			runs: map[string]string{
				"install": "npm install --no-audit --no-fund",
				"test":    "npm run test",
				"lint":    "npm run lint",
				"build":   "npm run build",
			},
			needs: map[string][]string{"test": {"install"}, "lint": {"install"}, "build": {"install"}},
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
			runs:    map[string]string{"install": "npm ci --no-audit --no-fund"},
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
			actions: []string{"test", "build"},
			runs:    map[string]string{"test": "make test", "build": "make build"},
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
		lockfile, install, test string
	}{
		{"yarn.lock", "yarn install --frozen-lockfile", "yarn run test"},
		{"pnpm-lock.yaml", "pnpm install --frozen-lockfile", "pnpm run test"},
	} {
		t.Run(tc.lockfile, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"package.json": pkg, tc.lockfile: ""})
			_, text, err := Generate(dir)
			if err != nil {
				t.Fatal(err)
			}
			doc := parseDoc(t, text)
			acts := doc.Stages[0].Actions
			if got := actionNames(doc.Stages[0]); !slices.Equal(got, []string{"install", "test", "build"}) {
				t.Fatalf("actions = %q", got)
			}
			if acts[0].Run != tc.install || acts[1].Run != tc.test {
				t.Errorf("install %q, test %q; want %q, %q", acts[0].Run, acts[1].Run, tc.install, tc.test)
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
func TestGeneratePythonDependencies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		deps  []string // expected lines of the deps script
		test  string
	}{
		{
			name: "requirements with pytest",
			files: map[string]string{
				"requirements.txt":  "requests==2.32.0\npytest>=8\n",
				"tests/test_x.py":   "def test_x():\n    assert True\n",
				"tests/conftest.py": "",
			},
			deps: []string{
				"python3 -m venv .venv",
				".venv/bin/python -m pip install --disable-pip-version-check -r requirements.txt",
			},
			test: ".venv/bin/python -m pytest",
		},
		{
			name: "pyproject extra with pytest",
			files: map[string]string{
				"pyproject.toml": "[project]\nname = \"x\"\ndependencies = [\n  \"httpx[http2]>=0.27\",  # client\n]\n\n" +
					"[project.optional-dependencies]\ndocs = [\"sphinx\"]\ntest = [\n  \"pytest>=8\",\n  \"pytest-cov\",\n]\n",
			},
			deps: []string{
				"python3 -m venv .venv",
				".venv/bin/python -m pip install --disable-pip-version-check '.[test]'",
			},
			test: ".venv/bin/python -m pytest || [ $? -eq 5 ]",
		},
		{
			name: "pytest-style tests without declaring pytest",
			files: map[string]string{
				"setup.py":            "from setuptools import setup\nsetup(name='x')\n",
				"tests/test_plain.py": "def test_plain():\n    assert 1 + 1 == 2\n",
			},
			deps: []string{
				"python3 -m venv .venv",
				".venv/bin/python -m pip install --disable-pip-version-check pytest",
			},
			test: ".venv/bin/python -m pytest",
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
			if got := actionNames(doc.Stages[0]); !slices.Equal(got, []string{"deps", "compile", "test"}) {
				t.Fatalf("actions = %q\n%s", got, text)
			}
			acts := doc.Stages[0].Actions
			if got := strings.Split(strings.TrimSpace(acts[0].Run), "\n"); !slices.Equal(got, tc.deps) {
				t.Errorf("deps script = %q, want %q", got, tc.deps)
			}
			if acts[2].Run != tc.test || !slices.Equal(acts[2].Needs, []string{"deps"}) {
				t.Errorf("test = %q needs %q, want %q needs [deps]", acts[2].Run, acts[2].Needs, tc.test)
			}
			if !slices.Equal(acts[1].Needs, []string{"deps"}) {
				t.Errorf("compile needs %q, want [deps]", acts[1].Needs)
			}
			if !strings.Contains(acts[1].Run, `-x '/\.venv/'`) {
				t.Errorf("compile %q doesn't skip the virtual environment", acts[1].Run)
			}
		})
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
