package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// What a new user does with a real project: velocity init, a run, an
// unchanged run, a broken test, a rerun of what failed, and the fix. The
// generated pipeline must pass, take everything from the cache the second
// time, and, once a test is broken, fail with that test's own failure in
// the run and in `rerun --failed` (not with a dependency folder missing
// because the action that installed it came from the cache), and pass
// again after the fix. None of it may warn about undeclared sharing.

// initCase is one project and how to break and fix one of its tests.
type initCase struct {
	dir string
	// kind is what init must report ("wrote velocity.yml for a KIND project").
	kind string
	// breakTest and fixTest edit the working tree; the lifecycle commits.
	breakTest, fixTest func(t *testing.T)
	// failure is a line of the broken test's own report that the failed
	// run and the rerun must show.
	failure string
}

// checkInitLifecycle runs the lifecycle on c.dir, a git repository with
// the project committed.
func checkInitLifecycle(t *testing.T, e *env, c initCase) {
	t.Helper()
	r := e.run(c.dir, "init")
	if r.code != 0 || !strings.Contains(r.stdout, "for a "+c.kind+" project") {
		t.Fatalf("init: exit %d, want a %s project\n%s%s", r.code, c.kind, r.stdout, r.stderr)
	}
	git(t, c.dir, "add", "velocity.yml")
	git(t, c.dir, "commit", "-qm", "velocity init")
	yml := readFile(t, filepath.Join(c.dir, "velocity.yml"))

	step := func(what string, wantCode int, args ...string) result {
		t.Helper()
		began := time.Now()
		r := e.run(c.dir, args...)
		t.Logf("%s: exit %d in %v", what, r.code, time.Since(began).Round(time.Millisecond))
		if r.code != wantCode {
			t.Fatalf("%s: exit %d, want %d\nvelocity.yml:\n%s\n%s%s", what, r.code, wantCode, yml, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout, "velocity: warning:") {
			t.Errorf("%s warned:\n%s", what, r.stdout)
		}
		return r
	}
	step("first run", 0, "run", "--strict")

	r = step("unchanged run", 0, "run", "--strict")
	if executed := regexp.MustCompile(`==> (\S+) succeeded`).FindAllString(r.stdout, -1); len(executed) > 0 {
		t.Errorf("unchanged run executed %q; want every action from the cache\n%s", executed, r.stdout)
	}

	c.breakTest(t)
	git(t, c.dir, "commit", "-qam", "break a test")
	failedRun := func(what string, args ...string) result {
		t.Helper()
		r := step(what, 1, args...)
		if !strings.Contains(r.stdout, c.failure) {
			t.Errorf("%s: output lacks the test's own failure %q\n%s", what, c.failure, r.stdout)
		}
		for _, bad := range []string{"exit 127", "command not found", "No such file or directory"} {
			if strings.Contains(r.stdout, bad) {
				t.Errorf("%s failed with %q, not (only) the broken test:\n%s", what, bad, r.stdout)
			}
		}
		return r
	}
	r = failedRun("run with a broken test", "run", "--strict")
	id := regexp.MustCompile(`velocity: run (\d+) of`).FindStringSubmatch(r.stdout)
	if id == nil {
		t.Fatalf("no run number in:\n%s", r.stdout)
	}
	failedRun("rerun --failed", "rerun", id[1], "--failed", "--strict")
	failedRun("unchanged run after the failure", "run", "--strict")

	c.fixTest(t)
	git(t, c.dir, "commit", "-qam", "fix the test")
	step("run after the fix", 0, "run", "--strict")
}

// gitProject makes dir a repository with everything in it committed.
func gitProject(t *testing.T, dir string) {
	t.Helper()
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "import")
}

// needNetwork skips a test whose registry cannot be reached, except under
// CI=true, where a skipped language would hide a regression.
func needNetwork(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", what, err)
	}
	t.Skipf("%s unreachable: %v", what, err)
}

// editFile replaces old with new in a file, which must contain it.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	text := readFile(t, path)
	if !strings.Contains(text, old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(text, old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInitGoModule: github.com/MakeNowJust/heredoc, fetched from the Go
// module proxy. (github.com/google/uuid was tried first: its own
// time-ordering test fails now and then on this machine's clock, which
// is not what this test is about.)
func TestInitGoModule(t *testing.T) {
	requireTool(t, "go")
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/MakeNowJust/heredoc@v1.0.0").Output()
	needNetwork(t, "the Go module proxy", err)
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %v %s", err, out)
	}
	dir := t.TempDir()
	copyDir(t, mod.Dir, dir)
	// The module cache is read-only.
	if out, err := exec.Command("chmod", "-R", "u+w", dir).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v %s", err, out)
	}
	gitProject(t, dir)
	broken := filepath.Join(dir, "broken_test.go")
	checkInitLifecycle(t, newEnv(t), initCase{
		dir:  dir,
		kind: "go",
		breakTest: func(t *testing.T) {
			os.WriteFile(broken, []byte("package heredoc\n\nimport \"testing\"\n\nfunc TestDocOfOneLine(t *testing.T) {\n"+
				"\tif got := Doc(\"\\n\\tx\\n\"); got != \"y\\n\" {\n\t\tt.Fatalf(\"Doc gave %q, want y\", got)\n\t}\n}\n"), 0o644)
			git(t, dir, "add", "broken_test.go")
		},
		fixTest: func(t *testing.T) { editFile(t, broken, `!= "y\n"`, `!= "x\n"`) },
		failure: `Doc gave "x\n", want y`,
	})
}

// TestInitNodePackage: concat-map, fetched from the npm registry with
// its tests, whose devDependency (tape) the action installs.
func TestInitNodePackage(t *testing.T) {
	requireTool(t, "npm")
	tmp := t.TempDir()
	pack := exec.Command("npm", "pack", "concat-map@0.0.1", "--silent")
	pack.Dir = tmp
	out, err := pack.Output()
	needNetwork(t, "the npm registry", err)
	if out, err := exec.Command("tar", "xzf", filepath.Join(tmp, strings.TrimSpace(string(out))), "-C", tmp).CombinedOutput(); err != nil {
		t.Fatalf("extract: %v %s", err, out)
	}
	dir := filepath.Join(tmp, "package")
	// A user commits the lockfile, which picks npm and keys the cache.
	lock := exec.Command("npm", "install", "--package-lock-only", "--no-audit", "--no-fund")
	lock.Dir = dir
	if out, err := lock.CombinedOutput(); err != nil {
		needNetwork(t, "the npm registry", err)
		t.Fatalf("npm install --package-lock-only: %s", out)
	}
	gitProject(t, dir)
	test := filepath.Join(dir, "test", "map.js")
	checkInitLifecycle(t, newEnv(t), initCase{
		dir:       dir,
		kind:      "node",
		breakTest: func(t *testing.T) { editFile(t, test, "[ 0, 1, 2, 3, 4, 5 ]", "[ 0, 1, 2, 3, 4, 99 ]") },
		fixTest:   func(t *testing.T) { editFile(t, test, "[ 0, 1, 2, 3, 4, 99 ]", "[ 0, 1, 2, 3, 4, 5 ]") },
		failure:   "expected: [0,1,2,3,4,99]",
	})
}

// TestInitPythonProject: PyPI is out of reach here, so the project's one
// dependency is a wheel it ships in wheels/ and its requirements install
// with --no-index: the test action still creates .venv and installs into
// it, which is what broke on the second run.
func TestInitPythonProject(t *testing.T) {
	requireTool(t, "python3")
	if err := exec.Command("python3", "-c", "import venv, ensurepip").Run(); err != nil {
		requireTool(t, "python3 with venv and ensurepip")
	}
	dir := project(t, map[string]string{
		"requirements.txt": "--no-index\n./wheels/tinyround-1.0-py3-none-any.whl\n",
		"money/__init__.py": "from tinyround import round_half_up\n\n\n" +
			"def split(total, parts):\n    \"\"\"Splits total into parts shares, rounded to cents.\"\"\"\n" +
			"    return [round_half_up(total / parts, 2)] * parts\n",
		"tests/__init__.py": "",
		"tests/test_split.py": "import unittest\n\nfrom money import split\n\n\n" +
			"class SplitTest(unittest.TestCase):\n    def test_thirds(self):\n" +
			"        self.assertEqual(split(10, 3), [3.33, 3.33, 3.33])\n",
	})
	writeWheel(t, filepath.Join(dir, "wheels", "tinyround-1.0-py3-none-any.whl"), "tinyround", "1.0", map[string]string{
		"tinyround/__init__.py": "from decimal import Decimal, ROUND_HALF_UP\n\n\n" +
			"def round_half_up(x, digits):\n    q = Decimal(1).scaleb(-digits)\n" +
			"    return float(Decimal(str(x)).quantize(q, rounding=ROUND_HALF_UP))\n",
	})
	gitProject(t, dir)
	test := filepath.Join(dir, "tests", "test_split.py")
	checkInitLifecycle(t, newEnv(t), initCase{
		dir:       dir,
		kind:      "python",
		breakTest: func(t *testing.T) { editFile(t, test, "[3.33, 3.33, 3.33]", "[3.34, 3.33, 3.33]") },
		fixTest:   func(t *testing.T) { editFile(t, test, "[3.34, 3.33, 3.33]", "[3.33, 3.33, 3.33]") },
		failure:   "AssertionError: Lists differ: [3.33, 3.33, 3.33] != [3.34, 3.33, 3.33]",
	})
}

// writeWheel writes a pure-Python wheel holding files, as pip installs it.
func writeWheel(t *testing.T, path, name, version string, files map[string]string) {
	t.Helper()
	info := name + "-" + version + ".dist-info/"
	files[info+"METADATA"] = "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n"
	files[info+"WHEEL"] = "Wheel-Version: 1.0\nGenerator: velocity-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	var record strings.Builder
	for f := range files {
		record.WriteString(f + ",,\n")
	}
	record.WriteString(info + "RECORD,,\n")
	files[info+"RECORD"] = record.String()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for f, body := range files {
		w, err := zw.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInitRustCrate: crates.io is out of reach here, so the crate has no
// dependencies; its Cargo.lock is committed, as for an application.
func TestInitRustCrate(t *testing.T) {
	requireTool(t, "cargo")
	dir := project(t, map[string]string{
		"Cargo.toml": "[package]\nname = \"wordcount\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
		"src/lib.rs": "/// Counts the words of a text.\n///\n/// ```\n/// assert_eq!(wordcount::count(\"a b\"), 2);\n/// ```\n" +
			"pub fn count(text: &str) -> usize {\n    text.split_whitespace().count()\n}\n",
		"tests/count.rs": "#[test]\nfn counts_words() {\n    assert_eq!(wordcount::count(\"one two  three\"), 3);\n}\n",
	})
	lock := exec.Command("cargo", "generate-lockfile", "--offline")
	lock.Dir = dir
	if out, err := lock.CombinedOutput(); err != nil {
		t.Fatalf("cargo generate-lockfile: %v %s", err, out)
	}
	gitProject(t, dir)
	test := filepath.Join(dir, "tests", "count.rs")
	checkInitLifecycle(t, newEnv(t), initCase{
		dir:       dir,
		kind:      "rust",
		breakTest: func(t *testing.T) { editFile(t, test, "three\"), 3)", "three\"), 4)") },
		fixTest:   func(t *testing.T) { editFile(t, test, "three\"), 4)", "three\"), 3)") },
		failure:   "left: 3",
	})
}

// debianMavenRepo is where Debian's Maven plugin packages install their
// artifacts, laid out as a Maven repository.
const debianMavenRepo = "/usr/share/maven-repo"

// debianMavenPackages are the Debian packages that put the plugins of
// Maven's default jar lifecycle and JUnit 4 into debianMavenRepo.
const debianMavenPackages = "maven libmaven-compiler-plugin-java libmaven-resources-plugin-java libmaven-jar-plugin-java libsurefire-java junit4"

// TestInitMavenProject: Maven Central is out of reach here, so the
// project is made in the test and resolves its plugins and JUnit from
// Debian's Maven repository, configured as a mirror in the project's
// .mvn/maven.config the way a company points Maven at its own
// repository manager.
func TestInitMavenProject(t *testing.T) {
	requireTool(t, "mvn")
	for _, p := range []string{"org/apache/maven/plugins/maven-compiler-plugin", "org/apache/maven/plugins/maven-surefire-plugin",
		"org/apache/maven/plugins/maven-resources-plugin", "org/apache/maven/plugins/maven-jar-plugin", "junit/junit/4.13.2"} {
		if _, err := os.Stat(filepath.Join(debianMavenRepo, p)); err != nil {
			requireTool(t, "Maven plugins offline (apt-get install "+debianMavenPackages+"): "+err.Error())
		}
	}
	local := t.TempDir()
	dir := project(t, map[string]string{
		// A JVM that stops at the first JIT tier and tests run inside
		// Maven's own JVM start faster, which is most of a small build.
		".mvn/maven.config": "--settings=.mvn/settings.xml\n-DforkCount=0\n",
		".mvn/jvm.config":   "-XX:TieredStopAtLevel=1 -Xshare:auto\n",
		".mvn/settings.xml": "<settings>\n  <localRepository>" + local + "</localRepository>\n" +
			"  <mirrors>\n    <mirror>\n      <id>debian</id>\n      <mirrorOf>*</mirrorOf>\n" +
			"      <url>file://" + debianMavenRepo + "</url>\n    </mirror>\n  </mirrors>\n</settings>\n",
		"pom.xml": `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>example</groupId>
  <artifactId>calc</artifactId>
  <version>1.0</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>junit</groupId>
      <artifactId>junit</artifactId>
      <version>4.13.2</version>
      <scope>test</scope>
    </dependency>
  </dependencies>
</project>
`,
		"src/main/java/calc/Calc.java": "package calc;\n\npublic final class Calc {\n" +
			"    public static int add(int a, int b) { return a + b; }\n}\n",
		"src/test/java/calc/CalcTest.java": "package calc;\n\nimport static org.junit.Assert.assertEquals;\n" +
			"import org.junit.Test;\n\npublic class CalcTest {\n    @Test\n" +
			"    public void adds() { assertEquals(5, Calc.add(2, 3)); }\n}\n",
	})
	gitProject(t, dir)
	test := filepath.Join(dir, "src/test/java/calc/CalcTest.java")
	checkInitLifecycle(t, newEnv(t), initCase{
		dir:       dir,
		kind:      "java",
		breakTest: func(t *testing.T) { editFile(t, test, "assertEquals(5,", "assertEquals(6,") },
		fixTest:   func(t *testing.T) { editFile(t, test, "assertEquals(6,", "assertEquals(5,") },
		failure:   "expected:<6> but was:<5>",
	})
}

// TestInitMakefileProject: build and test targets, test depending on
// what build makes.
func TestInitMakefileProject(t *testing.T) {
	requireTool(t, "make")
	dir := project(t, map[string]string{
		"Makefile": ".PHONY: build test\n\nbuild: out/greet\n\n" +
			"out/greet: greet.sh\n\tmkdir -p out && cp greet.sh out/greet && chmod +x out/greet\n\n" +
			"test: out/greet\n\t./check.sh\n",
		"greet.sh": "#!/bin/sh\necho \"hello, $1\"\n",
		"check.sh": "#!/bin/sh\nwant='hello, world'\ngot=$(out/greet world)\n" +
			"[ \"$got\" = \"$want\" ] || { echo \"FAIL: greet said '$got', want '$want'\"; exit 1; }\necho PASS\n",
	})
	os.Chmod(filepath.Join(dir, "check.sh"), 0o755)
	gitProject(t, dir)
	check := filepath.Join(dir, "check.sh")
	checkInitLifecycle(t, newEnv(t), initCase{
		dir:       dir,
		kind:      "make",
		breakTest: func(t *testing.T) { editFile(t, check, "want='hello, world'", "want='hi, world'") },
		fixTest:   func(t *testing.T) { editFile(t, check, "want='hi, world'", "want='hello, world'") },
		failure:   "FAIL: greet said 'hello, world', want 'hi, world'",
	})
}

// TestInitScriptProject: GitHub's script/bootstrap and script/test, the
// bootstrap fetching a "dependency" into the workspace that the tests use.
func TestInitScriptProject(t *testing.T) {
	dir := project(t, map[string]string{
		"script/bootstrap": "#!/bin/sh\nset -e\nmkdir -p vendor\nprintf 'add() { echo $(($1 + $2)); }\\n' > vendor/math.sh\n",
		"script/test": "#!/bin/sh\n. vendor/math.sh\ngot=$(add 2 2)\n" +
			"[ \"$got\" = 4 ] || { echo \"FAIL: add 2 2 = $got, want 4\"; exit 1; }\necho PASS\n",
		"README": "a shell project\n",
	})
	for _, s := range []string{"script/bootstrap", "script/test"} {
		os.Chmod(filepath.Join(dir, s), 0o755)
	}
	gitProject(t, dir)
	test := filepath.Join(dir, "script", "test")
	checkInitLifecycle(t, newEnv(t), initCase{
		dir:       dir,
		kind:      "script",
		breakTest: func(t *testing.T) { editFile(t, test, "got=$(add 2 2)", "got=$(add 2 3)") },
		fixTest:   func(t *testing.T) { editFile(t, test, "got=$(add 2 3)", "got=$(add 2 2)") },
		failure:   "FAIL: add 2 2 = 5, want 4",
	})
}

// TestSharingWarningNamesBothActions: the pipeline init used to write
// for Python, by hand: the warning appears on the first run, and --strict
// fails the reader instead of letting the cache break it later.
func TestSharingWarningNamesBothActions(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
name: shared
stages:
  - name: build
    actions:
      - name: install
        run: mkdir -p .venv/bin && printf '#!/bin/sh\necho tests ran\n' > .venv/bin/python && chmod +x .venv/bin/python
        inputs: [requirements.txt]
      - name: test
        needs: [install]
        run: .venv/bin/python
`, "requirements.txt": "tinyround==1.0\n"})
	gitProject(t, dir)
	r := e.run(dir, "run")
	want := "velocity: warning: build/test may read .venv, which build/install created but does not list in outputs or cache"
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("run: exit %d, want success with %q\n%s%s", r.code, want, r.stdout, r.stderr)
	}
	// The breakage the warning predicts: install from the cache, test run.
	editFile(t, filepath.Join(dir, "velocity.yml"), "run: .venv/bin/python", "run: .venv/bin/python  # changed")
	r = e.run(dir, "run")
	if r.code == 0 || !strings.Contains(r.stdout, "No such file or directory") {
		t.Errorf("second run: exit %d, want the missing .venv the warning predicted\n%s", r.code, r.stdout)
	}
	r = e.run(dir, "run", "--strict", "--no-cache")
	if r.code != 1 || !strings.Contains(r.stdout, "strict mode") || strings.Contains(r.stdout, "tests ran") {
		t.Errorf("--strict: exit %d, want test failed by strict mode before it ran\n%s", r.code, r.stdout)
	}
}

// TestExampleHelloDeclaresWhatItShares: the README's example passes in
// strict mode, so its first run shows no sharing warning.
func TestExampleHelloDeclaresWhatItShares(t *testing.T) {
	requireTool(t, "go")
	dir := t.TempDir()
	copyDir(t, "../examples/hello", dir)
	gitProject(t, dir)
	r := newEnv(t).run(dir, "run", "--strict", "--approve", "--no-serve", "--proxy-addr", "127.0.0.1:0")
	if r.code != 0 || strings.Contains(r.stdout, "warning") {
		t.Errorf("run --strict: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
