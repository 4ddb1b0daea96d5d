// Package scaffold writes a first velocity.yml for a project: it detects
// what kind of project a directory holds and generates a commented
// definition whose actions pass on that project as it is, so that
// `velocity init && velocity run` succeeds before the user edits anything.
//
// Detection looks at marker files in the directory itself (not in
// subdirectories). When several kinds match, the first in this order wins:
//
//  1. Go:     go.mod
//  2. Node:   package.json
//  3. Python: pyproject.toml, setup.py or requirements.txt
//  4. Rust:   Cargo.toml
//  5. Java:   pom.xml (Maven), build.gradle[.kts] or settings.gradle[.kts]
//  6. Make:   a Makefile (GNUmakefile, makefile, Makefile) defining at
//     least one of the targets test, lint, build or check
//  7. Script: a test script (script/test, scripts/test[.sh], test.sh, ...)
//  8. Generic: anything else; a placeholder action that passes
//
// Language markers come before the Makefile because a Makefile in a
// language's project usually wraps that language's own tooling, which the
// generated actions call directly.
//
// What actions share is declared. The actions of a stage run in one
// workspace, and only declared outputs come back when an action's result
// is taken from the cache (or kept by rerun --failed), so a dependency
// folder (node_modules, .venv, target) is never handed from an install
// action to a test action: the action that needs it installs into it, and
// the folder is a dependency cache (cache:, keyed by the lockfile with
// cache_key:) restored whenever that action executes.
package scaffold
