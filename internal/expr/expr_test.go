package expr_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/expr"
)

func TestEval(t *testing.T) {
	facts := expr.Facts{
		Branch:       "feature/x",
		Event:        "local",
		Env:          map[string]string{"DEPLOY": "yes", "EMPTY": ""},
		Matrix:       map[string]string{"go": "1.26"},
		Changed:      []string{"docs/guide/intro.md", "README.md"},
		ChangesKnown: true,
	}
	failed := facts
	failed.Failed = true
	cancelled := facts
	cancelled.Cancelled = true
	unknown := facts
	unknown.ChangesKnown = false
	for _, tc := range []struct {
		cond  string
		facts expr.Facts
		want  bool
	}{
		{"branch == 'feature/x'", facts, true},
		{"branch == 'main'", facts, false},
		{"branch != 'main'", facts, true},
		{"event == 'local'", facts, true},
		{"startsWith(branch, 'feature/')", facts, true},
		{"endsWith(branch, '/x')", facts, true},
		{"contains(branch, 'ure')", facts, true},
		{"contains('abc', 'd')", facts, false},
		{"env.DEPLOY == 'yes'", facts, true},
		{"env.EMPTY == ''", facts, true},
		{"env.UNSET == ''", facts, true},
		{"matrix.go == '1.26'", facts, true},
		{"changed('docs/**')", facts, true},
		{"changed('docs')", facts, true},
		{"changed('src/**', '*.md')", facts, true},
		{"changed('src/**')", facts, false},
		{"changed('**/*.md')", facts, true},
		{"changed('docs/*.md')", facts, false},
		{"changed('src/**')", unknown, true},
		{"true", facts, true},
		{"false || !false", facts, true},
		{"true == false", facts, false},
		{"!(branch == 'main') && (event == 'push' || true)", facts, true},
		{"'it''s' == 'it''s'", facts, true},
		// The implicit success(): no condition runs after a failure
		// unless it names a status function.
		{"true", failed, false},
		{"failure()", failed, true},
		{"failure()", facts, false},
		{"always()", failed, true},
		{"always()", cancelled, true},
		{"success()", facts, true},
		{"success()", failed, false},
		{"cancelled()", cancelled, true},
		{"success() || failure()", failed, true},
		{"failure() && branch == 'main'", failed, false},
	} {
		e, err := expr.Parse(tc.cond, expr.Options{Matrix: []string{"go"}})
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.cond, err)
			continue
		}
		if got := e.Eval(&tc.facts); got != tc.want {
			t.Errorf("%q with %+v = %v, want %v", tc.cond, tc.facts, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		cond string
		opts expr.Options
		want string // "column N: message" prefix
	}{
		{"", expr.Options{}, "column 1: the condition is empty"},
		{"branch", expr.Options{}, "column 1: a condition must be true or false, not a string; compare it, e.g. branch == '...'"},
		{"branch = 'main'", expr.Options{}, `column 8: unexpected character '=' (write ==)`},
		{`branch == "main"`, expr.Options{}, `column 11: strings are written in single quotes`},
		{"branch == 'main", expr.Options{}, "column 11: the string is not closed"},
		{"brnach == 'main'", expr.Options{}, `column 1: unknown name "brnach" (did you mean "branch"?)`},
		{"event == 'pusj'", expr.Options{}, `column 10: "pusj" is not an event; events are local, manual, push, schedule, webhook (did you mean "push"?)`},
		{"sucess()", expr.Options{}, `column 1: unknown function "sucess" (did you mean "success"?)`},
		{"changed()", expr.Options{}, "column 1: changed() needs at least one path glob"},
		{"changed(branch)", expr.Options{}, "column 9: changed() takes globs written as strings"},
		{"startsWith(branch)", expr.Options{}, "column 1: startsWith() takes 2 arguments, got 1"},
		{"branch == true", expr.Options{}, "column 8: \"==\" compares a string with a condition"},
		{"branch && true", expr.Options{}, "column 1: \"&&\" joins conditions, and this is a string"},
		{"!branch", expr.Options{}, "column 2: ! negates a condition"},
		{"(true", expr.Options{}, "column 6: expected ) to close the ( at column 1, got end of condition"},
		{"true true", expr.Options{}, `column 6: unexpected "true" after a complete condition`},
		{"branch == 'a' == 'b'", expr.Options{}, "column 15: comparisons do not chain"},
		{"matrix.go == '1'", expr.Options{}, "column 1: matrix values exist only in an action with a matrix"},
		{"matrix.og == '1'", expr.Options{Matrix: []string{"go"}}, `column 8: the matrix has no variable "og" (did you mean "go"?)`},
		{"env == 'x'", expr.Options{}, "column 1: env needs a variable name, as in env.NAME"},
		{"env.A.B == 'x'", expr.Options{}, "column 6: env.A has no fields"},
		{"${{ branch }}", expr.Options{}, "column 1: unexpected character '$'; conditions are not templates"},
		{"failure()", expr.Options{NoStatus: true}, "column 1: failure() does not apply here"},
		{strings.Repeat("(", 40) + "true" + strings.Repeat(")", 40), expr.Options{}, `column 33: the condition nests more than 32 levels deep (limit "max condition nesting" is 32)`},
		{strings.Repeat("!", 40) + "true", expr.Options{}, `column 33: the condition nests more than 32 levels deep`},
		{"true || " + strings.Repeat("x", expr.MaxLength), expr.Options{}, `column 2049: the condition is longer than 2048 bytes (limit "max condition length" is 2048)`},
	} {
		_, err := expr.Parse(tc.cond, tc.opts)
		var e *expr.Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, want an *expr.Error", tc.cond, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q):\n got %s\nwant %s…", tc.cond, err, tc.want)
		}
	}
}

func TestMatchPath(t *testing.T) {
	for _, tc := range []struct {
		pattern, file string
		want          bool
	}{
		{"docs/**", "docs/a.md", true},
		{"docs/**", "docs", true},
		{"docs/**", "docsx/a.md", false},
		{"**/*.go", "a/b/c.go", true},
		{"**/*.go", "c.go", true},
		{"src/**/testdata", "src/a/b/testdata/x", true},
		{"*.md", "docs/a.md", false},
		{"./docs/", "docs/a.md", true},
		{"**", "anything/at/all", true},
		{strings.Repeat("**/", 30) + "x", strings.Repeat("a/", 30) + "y", false},
	} {
		if got := expr.MatchPath(tc.pattern, tc.file); got != tc.want {
			t.Errorf("MatchPath(%q, %q) = %v, want %v", tc.pattern, tc.file, got, tc.want)
		}
	}
}

func TestUsesStatus(t *testing.T) {
	for cond, want := range map[string]bool{
		"branch == 'main'":           false,
		"failure()":                  true,
		"!always() || branch == 'x'": true,
		"changed('a') && true":       false,
	} {
		e, err := expr.Parse(cond, expr.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if e.UsesStatus() != want {
			t.Errorf("%q: UsesStatus = %v, want %v", cond, e.UsesStatus(), want)
		}
	}
}

// FuzzParse checks that no text makes Parse panic or take long, and that
// every refusal points inside the text.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"branch == 'main' && changed('docs/**')",
		"!(failure() || cancelled()) && startsWith(env.X, 'v')",
		"matrix.go != '1.25'",
		"'a''b' == 'a'",
		strings.Repeat("(", 100),
		strings.Repeat("!", 100) + "true",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start := time.Now()
		e, err := expr.Parse(s, expr.Options{Matrix: []string{"go"}})
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Parse took %v", d)
		}
		if err != nil {
			var pe *expr.Error
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(s) || pe.Msg == "" {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		e.Eval(&expr.Facts{Changed: []string{"a/b"}, ChangesKnown: true})
	})
}
