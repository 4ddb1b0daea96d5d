package spec

import "testing"

func TestCheckPath(t *testing.T) {
	tests := []struct {
		in   string
		glob bool
		want string // cleaned path, or "" when a problem is expected
	}{
		{"dist", true, "dist"},
		{"./dist/", true, "dist"},
		{"a//b/./c", false, "a/b/c"},
		{"**", true, "**"},
		{"src/**/*.go", true, "src/**/*.go"},
		{"logs/[a-z]*.log", true, "logs/[a-z]*.log"},
		{"node_modules", false, "node_modules"},
		{"", true, ""},
		{" ", false, ""},
		{".", true, ""},
		{"/abs", true, ""},
		{"~/x", false, ""},
		{"a/../b", true, ""},
		{"..", false, ""},
		{"**.go", true, ""},
		{"a/b**", true, ""},
		{"[abc", true, ""},
		{`x\`, true, ""},
		{"*.go", false, ""},
		{"a?", false, ""},
	}
	for _, tt := range tests {
		got, problem := checkPath(tt.in, tt.glob)
		if got != tt.want || (problem == "") != (tt.want != "") {
			t.Errorf("checkPath(%q, %v) = %q, %q; want %q", tt.in, tt.glob, got, problem, tt.want)
		}
	}
}
