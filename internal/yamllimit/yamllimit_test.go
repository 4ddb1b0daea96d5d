package yamllimit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml/parser"
)

func nested(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

// staircase nests block mappings n deep, one level a line.
func staircase(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat(" ", i), i)
	}
	fmt.Fprintf(&b, "%sleaf: 1\n", strings.Repeat(" ", n))
	return b.String()
}

// aliasBomb is the billion laughs: each level lists the one before ten
// times, so levels of 10 are 10^levels values.
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestParseRefusesOverLimits(t *testing.T) {
	cases := []struct {
		name      string
		src       string
		limit     string
		line, col int
	}{
		// 100,000 levels in 200 KB: the parser alone took more than 12 GB.
		{"flow lists", "stages: " + nested("[", "]", 100_000), NameMaxDepth, 1, 9 + 201},
		{"flow mappings", "a: " + nested("{b: ", "}", 50_000), NameMaxDepth, 1, 4 + 4*201},
		{"compact block lists", "stages:\n  " + strings.Repeat("- ", 100_000) + "x\n", NameMaxDepth, 2, 3 + 2*201},
		// The tokens show one level a line; the tree shows the depth.
		{"block mappings", staircase(250), NameMaxDepth, 201, 201},
		{"alias bomb", aliasBomb(9), NameMaxValues, 6, 45},
		// An alias copies its anchor to where it stands, deeper there.
		{"alias deepens", "a: &a " + nested("[", "]", 150) + "\nb: " + nested("[", "]", 100)[:100] + "*a" + strings.Repeat("]", 100), NameMaxDepth, 2, 104},
		{"alias of itself", "a: &a [*a]\n", NameMaxDepth, 1, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse([]byte(tc.src), Limits{})
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a LimitError", err)
			}
			if le.Limit != tc.limit || le.Line != tc.line || le.Col != tc.col {
				t.Errorf("got %q at %d:%d, want %q at %d:%d", le.Limit, le.Line, le.Col, tc.limit, tc.line, tc.col)
			}
			if !strings.Contains(le.Error(), tc.limit) {
				t.Errorf("message %q does not name the limit", le.Error())
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestParseAcceptsUpToLimits(t *testing.T) {
	cases := map[string]string{
		// As the JSON reader of ASL: the top level at 0, 200 levels inside.
		"flow lists at the limit":     "a: " + nested("[", "]", 200),
		"compact lists at the limit":  strings.Repeat("- ", 200) + "x\n",
		"block mappings at the limit": staircase(199),
		"aliases within the count":    aliasBomb(4),
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(src), Limits{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := Parse([]byte("a: "+nested("[", "]", 10)), Limits{MaxDepth: 5}); err == nil {
		t.Error("MaxDepth 5 let 10 levels through")
	}
	if _, err := Parse([]byte(aliasBomb(2)), Limits{MaxValues: 100}); err == nil {
		t.Error("MaxValues 100 let an expansion of 111+ values through")
	}
}

// Within the limits Parse is parser.ParseBytes: the same tree, the same
// syntax errors, for every golden definition of velocity.yml and ASL.
func TestParseMatchesTheParserWithinLimits(t *testing.T) {
	var files []string
	for _, glob := range []string{"../spec/testdata/*valid/*.txt", "../workflow/asl/testdata/*valid/*"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 50 {
		t.Fatalf("found only %d golden files", len(files))
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// The golden inputs end at a "-- want --" line.
		if i := bytes.Index(src, []byte("\n-- want --")); i >= 0 {
			src = src[:i+1]
		}
		want, wantErr := parser.ParseBytes(src, 0, parser.AllowDuplicateMapKey())
		got, gotErr := Parse(src, Limits{}, parser.AllowDuplicateMapKey())
		var le *LimitError
		if errors.As(gotErr, &le) && strings.Contains(file, "alias_expansion") {
			continue // the one golden file over a limit
		}
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("%s: error %v, the parser's %v", file, gotErr, wantErr)
			continue
		}
		if wantErr == nil && got.String() != want.String() {
			t.Errorf("%s: the tree differs from the parser's:\n%s\nwant:\n%s", file, got, want)
		}
	}
}
