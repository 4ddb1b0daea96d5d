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
//  4. Make:   a Makefile (GNUmakefile, makefile, Makefile) defining at
//     least one of the targets test, lint, build or check
//  5. Generic: anything else; a placeholder action that passes
//
// Language markers come before the Makefile because a Makefile in a Go,
// Node or Python project usually wraps that language's own tooling, which
// the generated actions call directly.
package scaffold
