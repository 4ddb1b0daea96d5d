package asl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nestedYAML is a Pass state's Result nested n levels deep in flow
// lists: 100,000 levels (200 KB) took 15 GB and 44 s to parse before
// nesting was bounded.
func nestedYAML(n int) string {
	return "StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n    Result: " +
		strings.Repeat("[", n) + strings.Repeat("]", n) + "\n"
}

// aliasBombYAML repeats a list of ten by aliases nine times over: a
// billion values in 1 KB.
func aliasBombYAML() string {
	var b strings.Builder
	b.WriteString("StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n    Result:\n")
	b.WriteString("      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "      l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	return b.String()
}

func TestLoadRefusesHostileSources(t *testing.T) {
	cases := []struct {
		name, file, src, want string
	}{
		{"nested YAML", "d.asl.yaml", nestedYAML(100_000),
			`d.asl.yaml:6:214: /States/A: values nest more than 200 deep (limit "max nesting depth" is 200)`},
		{"nested block YAML", "d.asl.yaml", "StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n    Result:\n      " + strings.Repeat("- ", 100_000) + "x\n",
			`d.asl.yaml:7:409: /States/A/Result: values nest more than 200 deep (limit "max nesting depth" is 200)`},
		{"nested JSON", "d.asl.json", `{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Result": ` +
			strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "}}}",
			`d.asl.json:1:272: invalid JSON: values nest more than 200 deep (limit "max nesting depth" is 200)`},
		{"alias bomb", "d.asl.yaml", aliasBombYAML(),
			`d.asl.yaml:12:51: /States/A/Result: the document expands to more than 1000000 values through its aliases (limit "max alias expansion" is 1000000)`},
		{"too large", "d.asl.yaml", "StartAt: A\n" + strings.Repeat("#\n", MaxDefinitionSize/2),
			`d.asl.yaml:524284:2: the definition is larger than 1048576 bytes (limit "max definition size" is 1048576 bytes)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Load(tc.file, []byte(tc.src))
			errs, ok := err.(Errors)
			if !ok || len(errs) != 1 {
				t.Fatalf("err = %v, want one Error", err)
			}
			if !strings.HasPrefix(errs[0].Error(), tc.want) {
				t.Errorf("error %q, want it to start %q", errs[0].Error(), tc.want)
			}
			// A second is the bound users get; the margin is for a
			// loaded machine and the race detector.
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refused after %v", d)
			}
		})
	}
}

func TestReadFileRefusesLargeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.asl.yaml")
	if err := os.WriteFile(path, []byte(strings.Repeat("#\n", MaxDefinitionSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path)
	want := path + `:524289:1: the definition is larger than 1048576 bytes (limit "max definition size"`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want it to start %q", err, want)
	}
}

// An alias copies what its anchor held where the anchor was written; an
// anchor inside that copy does not redefine a later anchor of its name.
func TestAliasCopyDoesNotRedefineAnchors(t *testing.T) {
	r := &report{file: "d.yaml"}
	root := parseSource(r, []byte("x: &x {y: &y big}\nz: &y small\ncopy: *x\nw: *y\n"))
	if len(r.errs) > 0 {
		t.Fatal(Errors(r.errs))
	}
	if got := root.get("w").text; got != "small" {
		t.Errorf("*y = %q, want small, the anchor written last before it", got)
	}
}
