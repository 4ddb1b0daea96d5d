package jsonata

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLimits checks that each limit stops an expression that exceeds it,
// with an error naming the limit and its value.
func TestLimits(t *testing.T) {
	deadline, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tests := []struct {
		name   string
		expr   string
		limits Limits
		ctx    context.Context
		want   string
	}{
		{"expression length", strings.Repeat("1+", 100) + "1", Limits{MaxExpressionLength: 100}, nil, "MaxExpressionLength (100)"},
		{"recursion", "($f := function($n){$f($n+1)}; $f(0))", Limits{}, nil, "MaxDepth (1000)"},
		{"nesting at compile", strings.Repeat("(", 50) + "1" + strings.Repeat(")", 50), Limits{MaxDepth: 20}, nil, "MaxDepth (20)"},
		{"steps", "$count([1..100000].($ * 2))", Limits{MaxSteps: 1000}, nil, "MaxSteps (1000)"},
		{"deadline", "($f := function($n){$n = 0 ? 0 : $f($n-1) + $f($n-1)}; $f(40))", Limits{MaxSteps: 1 << 40}, deadline, "context (context deadline exceeded)"},
		{"array length", "[1..2000]", Limits{MaxArrayLength: 1000}, nil, "MaxArrayLength (1000)"},
		{"array by path", "[1..600].$append($, 0)", Limits{MaxArrayLength: 1000}, nil, "MaxArrayLength (1000)"},
		{"string length", "($s := 'abcdefgh'; $s & $s & $s & $s & $s)", Limits{MaxStringLength: 32}, nil, "MaxStringLength (32)"},
		{"string by pad", "$pad('x', 100)", Limits{MaxStringLength: 32}, nil, "MaxStringLength (32)"},
		{"string by join", "$join($map([1..20], function($v){'abc'}))", Limits{MaxStringLength: 32}, nil, "MaxStringLength (32)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			e, err := CompileWithLimits(tt.expr, tt.limits)
			if err == nil {
				_, err = e.Evaluate(ctx, nil, nil)
			}
			if err == nil {
				t.Fatalf("no error, want one naming %s", tt.want)
			}
			var je *Error
			if !errors.Is(err, ErrLimit) || !errors.As(err, &je) || je.Code != codeLimit {
				t.Fatalf("error %v is not a limit error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not name %s", err, tt.want)
			}
		})
	}
}

// TestLimitsAllowOrdinaryWork checks the defaults leave room for what
// workflows do: recursion a few hundred deep, large ranges.
func TestLimitsAllowOrdinaryWork(t *testing.T) {
	for expr, want := range map[string]string{
		"($f := function($n){$n = 0 ? 0 : 1 + $f($n-1)}; $f(200))": "200",
		"$count([1..1000000])": "1000000",
		"$sum([1..100000])":    "5000050000",
	} {
		e, err := Compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Evaluate(context.Background(), nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if s := toText(t, got); s != want {
			t.Fatalf("%s = %s, want %s", expr, s, want)
		}
	}
}

// TestLongFlatExpressionCompiles checks that length alone does not count
// as nesting: an expression just under MaxExpressionLength compiles.
func TestLongFlatExpressionCompiles(t *testing.T) {
	expr := "$count([" + strings.Repeat("1,", 32490) + "1])" // 64990 bytes, nesting 3
	got, err := eval(t, expr, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != "32491" {
		t.Fatalf("got %s, want 32491", got)
	}
}
