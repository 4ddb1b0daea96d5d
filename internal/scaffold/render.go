package scaffold

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// kindDescription names a kind in the header comment.
func kindDescription(k Kind) string {
	switch k {
	case Go:
		return "a Go module"
	case Node:
		return "a Node project"
	case Python:
		return "a Python project"
	case Make:
		return "a Makefile project"
	default:
		return "no known kind of project"
	}
}

// render writes p as a commented velocity.yml. The text is assembled by
// hand rather than marshalled because the comments are half its value and
// must sit next to the keys they explain.
func render(name string, p plan) []byte {
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}

	line("# velocity.yml: the pipeline `velocity run` executes for this project.")
	if p.found != "" {
		line("# Written by `velocity init`, which found %s (%s).", kindDescription(p.kind), p.found)
	} else {
		line("# Written by `velocity init`, which found %s.", kindDescription(p.kind))
	}
	line("# When several kinds match, init picks the first of: go.mod, package.json,")
	line("# pyproject.toml/setup.py/requirements.txt, Makefile. Edit freely: init")
	line("# never overwrites this file without --force.")
	line("")
	line("# name identifies the project in run history and is VELOCITY_PROJECT in")
	line("# actions.")
	line("name: %s", scalar(name))
	line("")
	line("# env is added to every action's environment. Actions also get")
	line("# VELOCITY_RUN_ID, VELOCITY_PROJECT, VELOCITY_COMMIT, VELOCITY_BRANCH,")
	line("# VELOCITY_STAGE, VELOCITY_ACTION and CI=true; HOME and PATH come from the")
	line("# host, other host variables only through env_passthrough.")
	line("# env:")
	line("#   %s", p.envExample)
	line("")
	line("# env_passthrough copies more host variables into every action: exact")
	line("# names, or prefixes ending in \"*\".")
	line("# env_passthrough: [SSH_AUTH_SOCK, \"AWS_*\"]")
	line("")
	line("# stages run in order; each starts only when the previous one succeeded.")
	line("# To add a stage, append an entry to this list, e.g.:")
	line("#   - name: deploy")
	line("#     actions:")
	line("#       - name: publish")
	line("#         run: ./scripts/publish.sh")
	line("stages:")
	line("  - name: build")
	for _, n := range p.notes {
		line("    # %s", n)
	}
	if len(p.notes) > 0 {
		line("    #")
	}
	line("    # Each action's run is a bash script (bash -eo pipefail) executed in a")
	line("    # copy of the project shared by the stage's actions. An action starts")
	line("    # as soon as every action named in its needs has succeeded; actions")
	line("    # without needs start at once, so independent actions run in parallel.")
	line("    actions:")
	for i, a := range p.actions {
		if i > 0 {
			line("")
		}
		for c := range strings.SplitSeq(a.comment, "\n") {
			line("      # %s", c)
		}
		line("      - name: %s", scalar(a.name))
		if strings.Contains(strings.TrimRight(a.run, "\n"), "\n") {
			line("        run: |")
			for l := range strings.SplitSeq(strings.TrimRight(a.run, "\n"), "\n") {
				if l == "" {
					line("")
					continue
				}
				line("          %s", l)
			}
		} else {
			line("        run: %s", scalar(strings.TrimRight(a.run, "\n")))
		}
		if len(a.needs) > 0 {
			names := make([]string, len(a.needs))
			for i, n := range a.needs {
				names[i] = scalar(n)
			}
			line("        needs: [%s]", strings.Join(names, ", "))
		}
		if a.timeout != "" {
			line("        # timeout fails an attempt that runs longer.")
			line("        timeout: %s", a.timeout)
		}
		if a.retry != "" {
			line("        # retry runs a failed action again, waiting backoff (doubling) between tries.")
			line("        retry: %s", a.retry)
		}
	}
	line("")
	line("    # Per action you can also set env (added to the environment), retry")
	line("    # ({attempts: 2, backoff: 1s}) and allow_failure: true (its failure")
	line("    # doesn't fail the stage). Besides actions, a stage may list on_failure")
	line("    # actions, run only when the stage failed, and finally actions, run")
	line("    # whatever the outcome, e.g.:")
	line("    # finally:")
	line("    #   - name: report")
	line("    #     run: echo \"stage $VELOCITY_STAGE of run $VELOCITY_RUN_ID is over\"")
	return []byte(b.String())
}

// scalar returns s as a YAML scalar: plain when that reads back as the same
// string; otherwise quoted (a name like "true" or "1.0", or a command with
// ": " or " #" in it). Asking the parser, rather than restating YAML's
// rules here, keeps the two from disagreeing.
func scalar(s string) string {
	var v map[string]any
	if s != "" && strings.TrimSpace(s) == s && strconv.CanBackquote(s) &&
		yaml.Unmarshal([]byte("k: "+s+"\n"), &v) == nil {
		if got, ok := v["k"].(string); ok && got == s {
			return s
		}
	}
	if strconv.CanBackquote(s) {
		// Single quotes keep shell commands readable: inside them only
		// the quote itself needs escaping, by doubling it.
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	// Go's quoted form of a string is valid in YAML's double-quoted style.
	return strconv.Quote(s)
}
