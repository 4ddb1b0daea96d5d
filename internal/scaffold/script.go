package scaffold

import (
	"os"
	"path/filepath"
	"strings"
)

// testScripts are the conventional homes of a project's test entry point,
// in the order tried: GitHub's "scripts to rule them all" layout first.
func testScripts() []string {
	return []string{"script/test", "scripts/test", "scripts/test.sh", "test.sh", "run_tests.sh", "run-tests.sh"}
}

// bootstrapScripts set a project up before its tests, in the same layouts.
func bootstrapScripts() []string {
	return []string{"script/bootstrap", "scripts/bootstrap", "scripts/bootstrap.sh", "bootstrap.sh"}
}

// scriptCommand is how an action calls a script: directly when it is
// executable (its #! line picks the interpreter), else with bash for .sh
// files and sh otherwise.
func scriptCommand(dir, name string) string {
	info, err := os.Stat(filepath.Join(dir, name))
	switch {
	case err == nil && info.Mode()&0o111 != 0:
		return "./" + name
	case strings.HasSuffix(name, ".sh"):
		return "bash " + name
	}
	return "sh " + name
}

// scriptPlan builds the plan for a project whose tests start from a
// script: one action running the bootstrap script, if any, then the test
// script. They are one action because whatever the bootstrap installs in
// the workspace is what the tests use, and nothing tells which paths
// those are.
func scriptPlan(dir string) (plan, error) {
	test, err := firstExisting(dir, testScripts()...)
	if err != nil {
		return plan{}, err
	}
	boot, err := firstExisting(dir, bootstrapScripts()...)
	if err != nil {
		return plan{}, err
	}
	p := plan{kind: Script, found: test, envExample: "GREETING: hello"}
	run := scriptCommand(dir, test)
	comment := "Run " + test + "."
	if boot != "" {
		run = scriptCommand(dir, boot) + "\n" + run + "\n"
		comment = "Set the project up with " + boot + ", then run " + test + ". One action,\n" +
			"because the tests use what the set-up leaves in the workspace."
	}
	p.actions = append(p.actions, action{name: "test", comment: comment, run: run, timeout: testTimeout})
	return p, nil
}
