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
	case Rust:
		return "a Rust crate"
	case Java:
		return "a Java project"
	case Make:
		return "a Makefile project"
	case Script:
		return "a test script"
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
	line("# pyproject.toml/setup.py/requirements.txt, Cargo.toml, pom.xml/build.gradle,")
	line("# Makefile, a test script. Edit freely: init never overwrites this file")
	line("# without --force.")
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
	if len(p.notes) > 0 {
		for _, n := range wrap(strings.Join(p.notes, "\n"), commentWidth+2) {
			line("    # %s", n)
		}
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
		for _, c := range wrap(a.comment, commentWidth) {
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
			line("        needs: %s", flow(a.needs))
		}
		if len(a.env) > 0 {
			line("        env:")
			for _, k := range sortedKeys(a.env) {
				line("          %s: %s", scalar(k), scalar(a.env[k]))
			}
		}
		if len(a.cache) > 0 {
			for _, c := range wrap(a.cacheComment, commentWidth-2) {
				line("        # %s", c)
			}
			line("        cache: %s", flow(a.cache))
			if len(a.cacheKey) > 0 {
				line("        cache_key: %s", flow(a.cacheKey))
			}
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

// commentWidth is the longest comment text next to an action, so that the
// file reads in an 80-column editor.
const commentWidth = 70

// wrap breaks each line of text that is longer than width at spaces;
// lines already short enough are kept as written.
func wrap(text string, width int) []string {
	var out []string
	for l := range strings.SplitSeq(text, "\n") {
		for len(l) > width {
			cut := strings.LastIndexByte(l[:width+1], ' ')
			if cut <= 0 {
				break
			}
			out = append(out, l[:cut])
			l = l[cut+1:]
		}
		out = append(out, l)
	}
	return out
}

// flow writes a list of names or paths in YAML's flow style, [a, b].
func flow(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = scalar(s)
		// Flow style gives these characters a meaning plain block
		// scalars don't.
		if q[i] == s && strings.ContainsAny(s, ",[]{}") {
			q[i] = "'" + s + "'"
		}
	}
	return "[" + strings.Join(q, ", ") + "]"
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
