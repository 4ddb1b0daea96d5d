package executions

import (
	"strings"
	"testing"
)

func TestStateMachineName(t *testing.T) {
	for file, want := range map[string]string{
		"dir/orders.asl.json": "orders",
		"orders.asl.yaml":     "orders",
		"orders.yml":          "orders",
		"orders.json":         "orders",
		"my.flow.json":        "my.flow",
	} {
		if got := stateMachineName(file); got != want {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"nightly", "run-2024.01_a", "acct-1"} {
		if err := checkName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a/b", "x:y", "tab\t", strings.Repeat("a", 81)} {
		if checkName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
