package scaffold

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// makefile is what scaffold knows of a project's Makefile: which file make
// would read and the explicit targets it defines.
type makefile struct {
	// name is the file make reads, "" when there is none.
	name    string
	targets []string
}

// makefileNames are the names GNU make looks for, in its own order, so
// that scaffold reads the file `make` would.
func makefileNames() []string { return []string{"GNUmakefile", "makefile", "Makefile"} }

// makeTargets are the conventional targets turned into actions, in order.
func makeTargets() []string { return []string{"test", "lint", "build", "check"} }

// readMakefile reads and parses the Makefile of dir, if any.
func readMakefile(dir string) (makefile, error) {
	name, err := firstExisting(dir, makefileNames()...)
	if err != nil || name == "" {
		return makefile{}, err
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return makefile{}, fmt.Errorf("read %s: %w", name, err)
	}
	return makefile{name: name, targets: parseMakeTargets(string(data))}, nil
}

// known returns the conventional targets the Makefile defines.
func (m makefile) known() []string {
	var out []string
	for _, t := range makeTargets() {
		if slices.Contains(m.targets, t) {
			out = append(out, t)
		}
	}
	return out
}

// parseMakeTargets returns the explicit targets of rules in a Makefile.
// It is deliberately simple, not a make parser: it skips recipes, comments,
// variable assignments, define blocks, and pattern or computed targets,
// which is enough to find hand-written targets like "test:".
func parseMakeTargets(text string) []string {
	var targets []string
	inDefine := false
	lines := joinContinuations(strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n"))
	for _, line := range lines {
		if strings.HasPrefix(line, "\t") {
			continue // recipe
		}
		line = stripMakeComment(line)
		trimmed := strings.TrimSpace(line)
		word, _, _ := strings.Cut(trimmed, " ")
		switch {
		case inDefine:
			if word == "endef" {
				inDefine = false
			}
			continue
		case word == "define" || (word == "override" || word == "export") && strings.Contains(trimmed, " define "):
			inDefine = true
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		lhs, rhs := line[:colon], line[colon+1:]
		// "X := y", "X ::= y" and "X = a:b" are assignments, not rules.
		if strings.HasPrefix(rhs, "=") || strings.HasPrefix(rhs, ":=") || strings.ContainsAny(lhs, "=") {
			continue
		}
		// "t: VAR = value" sets a target-specific variable; it defines no rule.
		if rhs = strings.TrimPrefix(rhs, ":"); strings.Contains(rhs, "=") && !strings.Contains(rhs, ";") {
			continue
		}
		for _, t := range strings.Fields(lhs) {
			// Pattern rules, computed names and special targets like .PHONY
			// can't be invoked by a plain "make name".
			if strings.ContainsAny(t, "%$()") || strings.HasPrefix(t, ".") {
				continue
			}
			if !slices.Contains(targets, t) {
				targets = append(targets, t)
			}
		}
	}
	return targets
}

// joinContinuations joins lines ending in a backslash with the next one,
// as make does before parsing.
func joinContinuations(lines []string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range lines {
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\"))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(l)
		out = append(out, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// stripMakeComment removes a trailing comment; "\#" is a literal hash.
func stripMakeComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] != '\\') {
			return line[:i]
		}
	}
	return line
}

// makeOrder is the order the targets run in: build first, because tests
// usually exercise what it builds; the checks last, so that a style
// complaint doesn't hide a test result.
func makeOrder() []string { return []string{"build", "test", "lint", "check"} }

// makePlan builds the plan for a Makefile project: one action that runs
// the conventional targets the Makefile defines, in one make invocation.
//
// One action, not one per target: targets share prerequisites (test
// usually depends on build), and separate make processes in the one
// workspace would build them at the same time, racing on the same files.
// Chained one after the other instead, they would save nothing: make
// rebuilds whatever an earlier target's cached result did not bring back,
// since only declared outputs are restored.
func makePlan(dir string) (plan, error) {
	mk, err := readMakefile(dir)
	if err != nil {
		return plan{}, err
	}
	p := plan{
		kind:       Make,
		found:      mk.name,
		envExample: "MAKEFLAGS: -j2",
	}
	known := mk.known()
	var targets []string
	for _, t := range makeOrder() {
		if slices.Contains(known, t) {
			targets = append(targets, t)
		}
	}
	name := targets[0]
	if slices.Contains(targets, "test") {
		name = "test"
	}
	comment := fmt.Sprintf("Run the %s %s of the %s, in this order, in one make: ",
		strings.Join(quoteAll(targets), ", "), plural(len(targets), "target"), mk.name) +
		"separate make processes in one workspace would build shared prerequisites at the same time."
	if len(targets) == 1 {
		comment = fmt.Sprintf("Run the %q target of the %s.", targets[0], mk.name)
	}
	p.actions = append(p.actions, action{
		name:    name,
		comment: comment,
		run:     "make " + strings.Join(targets, " "),
		timeout: testTimeout,
	})
	return p, nil
}
