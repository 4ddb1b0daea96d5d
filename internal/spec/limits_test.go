package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nestedFlow is "stages: [[[...]]]" n levels deep: 100,000 levels (200 KB)
// took more than 12 GB in the YAML parser before nesting was bounded.
func nestedFlow(n int) string {
	return "stages: " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n"
}

// aliasBomb is n stages of n actions of n sidecars, written once and
// repeated by aliases: 3.7 KB for n = 300, 27 million sidecars once
// expanded, which took more than 3 GB and a minute to decode.
func aliasBomb(n int) string {
	rep := func(alias string) string {
		return strings.TrimSuffix(strings.Repeat(alias+", ", n-1), ", ")
	}
	return fmt.Sprintf("stages: [&s {name: s, actions: [&a {name: a, run: x, sidecars: [&c {name: c, run: y}, %s]}, %s]}, %s]\n",
		rep("*c"), rep("*a"), rep("*s"))
}

func TestParseRefusesHostileYAML(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"nested flow", nestedFlow(100_000), `velocity.yml:1:210: values nest more than 200 deep (limit "max nesting depth" is 200)`},
		{"nested block", "stages:\n  " + strings.Repeat("- ", 100_000) + "x\n", `velocity.yml:2:405: values nest more than 200 deep (limit "max nesting depth" is 200)`},
		{"alias bomb", aliasBomb(300), `(limit "max alias expansion" is 1000000)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse(FileName, []byte(tc.src))
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("err = %v, want one Error", err)
			}
			if !strings.Contains(errs[0].Error(), tc.want) {
				t.Errorf("error %q does not hold %q", errs[0].Error(), tc.want)
			}
			// A second is the bound users get; the margin is for a
			// loaded machine and the race detector.
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refused after %v", d)
			}
		})
	}
}

func TestParseAcceptsAliasesWithinLimit(t *testing.T) {
	// 10 stages of 10 actions of 10 sidecars expand to a few thousand
	// values: aliases used as intended keep working (the duplicate names
	// are what is wrong with this file, not its size).
	_, err := Parse(FileName, []byte(aliasBomb(10)))
	if err == nil || strings.Contains(err.Error(), "max alias expansion") {
		t.Fatalf("err = %v, want only the duplicate names reported", err)
	}
	if !strings.Contains(err.Error(), "duplicate") {
		t.Fatalf("err = %v, want duplicate names", err)
	}
}

func TestLoadRefusesLargeFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	// A valid pipeline padded with a comment past the limit.
	head := "stages:\n  - name: s\n    actions:\n      - {name: a, run: x}\n"
	line := "# " + strings.Repeat("x", 1021) + "\n" // 1 KiB a line
	src := head + strings.Repeat(line, MaxFileSize/len(line)+1)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("err = %v, want one Error", err)
	}
	// The first byte past the limit: after the head, 1020 lines of 1 KiB
	// and 1024-len(head) bytes of the next.
	want := fmt.Sprintf(`%s:%d:%d: the definition is larger than 1048576 bytes (limit "max definition size" is 1048576 bytes)`,
		path, 4+1023+1, MaxFileSize-len(head)-1023*len(line)+1)
	if !strings.HasPrefix(errs[0].Error(), want) {
		t.Errorf("error %q, want it to start %q", errs[0].Error(), want)
	}
	// At the limit the file is read.
	if err := os.WriteFile(path, []byte(src[:MaxFileSize]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil && strings.Contains(err.Error(), "max definition size") {
		t.Errorf("a file of exactly %d bytes: %v", MaxFileSize, err)
	}
}

func TestAliasBombIsSmall(t *testing.T) {
	if n := len(aliasBomb(300)); n > 4096 {
		t.Fatalf("the alias bomb is %d bytes, want at most 4 KB", n)
	}
}

func TestParseRefusesTooManyActions(t *testing.T) {
	// Four stages of 12,500 actions each reach the limit; one more action
	// in a fifth stage passes it. Aliases keep the file small, and the
	// repeated names are not reported past the limit.
	var b strings.Builder
	b.WriteString("stages:\n")
	for s := range 5 {
		n := MaxActions / 4
		if s == 4 {
			n = 1
		}
		fmt.Fprintf(&b, "  - name: s%d\n    actions: [", s)
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			if s == 0 && i == 0 {
				b.WriteString("&a {name: a, run: x}")
			} else {
				b.WriteString("*a")
			}
		}
		b.WriteString("]\n")
	}
	_, err := Parse(FileName, []byte(b.String()))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("err = %.500v, want one Error", err)
	}
	want := `velocity.yml:11:15: stages[4].actions[0]: the pipeline has more than 50000 actions (limit "max actions" is 50000)`
	if !strings.HasPrefix(errs[0].Error(), want) {
		t.Errorf("error %q, want it to start %q", errs[0].Error(), want)
	}
}
