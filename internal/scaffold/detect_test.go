package scaffold

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		want  Kind
	}{
		{"empty", nil, Generic},
		{"go", []string{"go.mod"}, Go},
		{"node", []string{"package.json"}, Node},
		{"pyproject", []string{"pyproject.toml"}, Python},
		{"setup.py", []string{"setup.py"}, Python},
		{"requirements", []string{"requirements.txt"}, Python},
		{"rust", []string{"Cargo.toml"}, Rust},
		{"maven", []string{"pom.xml"}, Java},
		{"gradle", []string{"build.gradle.kts"}, Java},
		{"script/test", []string{"script/test"}, Script},
		{"test.sh", []string{"test.sh"}, Script},
		{"rust beats java and make", []string{"Cargo.toml", "pom.xml", "Makefile"}, Rust},
		{"java beats make", []string{"build.gradle", "Makefile"}, Java},
		{"make beats script", []string{"Makefile", "test.sh"}, Make},
		{"make", []string{"Makefile"}, Make},
		{"GNUmakefile", []string{"GNUmakefile"}, Make},
		// Precedence: Go, Node, Python, Rust, Java, Make, Script.
		{"go beats all", []string{"go.mod", "package.json", "pyproject.toml", "Makefile"}, Go},
		{"node beats python and make", []string{"package.json", "requirements.txt", "Makefile"}, Node},
		{"python beats make", []string{"setup.py", "Makefile"}, Python},
		// Markers only count at the top level.
		{"nested go.mod", []string{"sub/go.mod"}, Generic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{}
			for _, f := range tc.files {
				files[f] = ""
			}
			if _, ok := files["Makefile"]; ok {
				files["Makefile"] = "test:\n\ttrue\n"
			}
			if _, ok := files["GNUmakefile"]; ok {
				files["GNUmakefile"] = "build:\n\ttrue\n"
			}
			writeFiles(t, dir, files)
			got, err := Detect(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Detect = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDetectMakefileWithoutKnownTargets(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Makefile": "deploy:\n\t./deploy.sh\n"})
	got, err := Detect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != Generic {
		t.Errorf("Detect = %v, want generic: no target scaffold can use", got)
	}
}

func TestDetectErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Detect(filepath.Join(dir, "missing")); !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing dir: err = %v", err)
	}
	file := filepath.Join(dir, "file")
	writeFiles(t, dir, map[string]string{"file": ""})
	if _, err := Detect(file); err == nil {
		t.Error("a file was accepted as a project directory")
	}
	// A marker that is a directory is not a marker.
	if err := os.Mkdir(filepath.Join(dir, "go.mod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Detect(dir); err != nil || got != Generic {
		t.Errorf("go.mod directory: Detect = %v, %v; want generic", got, err)
	}
}

// unwrapAll returns the innermost error of a %w chain.
func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
