package jsonata

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

func benchStates(b testing.TB, n int) any {
	var sb strings.Builder
	sb.WriteString(`{"input":{"items":[`)
	for i := range n {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"sku":"s%d","qty":%d,"price":%d.5}`, i, i%7, i%13)
	}
	sb.WriteString(`]}}`)
	v, err := jsonvalue.Decode([]byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkEvaluate measures expressions of the kinds Step Functions
// definitions use, on 100 items.
func BenchmarkEvaluate(b *testing.B) {
	states := benchStates(b, 100)
	for name, expr := range map[string]string{
		"path":      `$states.input.items[50].sku`,
		"sum":       `$sum($states.input.items.(qty * price))`,
		"filter":    `$states.input.items[qty > 3 and price < 8].sku`,
		"construct": `$states.input.items.{"id": sku, "total": qty * price}`,
		"lambda":    `$map($states.input.items, function($i){$uppercase($i.sku)})`,
		"sort":      `$states.input.items^(>price, sku).sku`,
	} {
		e, err := Compile(expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Evaluate(context.Background(), Undefined, map[string]any{"states": states}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(`$states.input.items[qty > 3].{"id": sku, "total": $round(qty * price, 2)}`); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentEvaluate checks one Expression serves many goroutines
// (run with -race): the interpreter shares compiled expressions.
func TestConcurrentEvaluate(t *testing.T) {
	states := benchStates(t, 20)
	e, err := Compile(`($t := $sum($states.input.items.price); $states.input.items#$i[$i < 3].{"s": sku, "p": price / $t})`)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.Evaluate(context.Background(), Undefined, map[string]any{"states": states})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got, err := e.Evaluate(context.Background(), Undefined, map[string]any{"states": states})
				if err != nil || !jsonvalue.Equal(got, want) {
					t.Errorf("got %v, %v; want %v", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
