package intrinsic

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

func mustParse(t *testing.T, expr string) *Call {
	t.Helper()
	c, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return c
}

func TestUUIDIsVersion4AndFresh(t *testing.T) {
	c := mustParse(t, "States.UUID()")
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		v, err := c.Eval(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := v.(string)
		if !ok || !v4.MatchString(s) {
			t.Fatalf("UUID() = %#v, not a lowercase v4 UUID", v)
		}
		if seen[s] {
			t.Fatalf("UUID() repeated %s", s)
		}
		seen[s] = true
	}
}

// The end of States.MathRandom is exclusive and its start inclusive.
func TestMathRandomStaysInItsHalfOpenRange(t *testing.T) {
	c := mustParse(t, "States.MathRandom($.start, $.end)")
	input := mustJSON(t, `{"start": -1, "end": 2}`)
	counts := map[string]int{}
	for range 600 {
		v, err := c.Eval(input, nil)
		if err != nil {
			t.Fatal(err)
		}
		n, ok := v.(json.Number)
		if !ok {
			t.Fatalf("MathRandom gave %#v, want a json.Number", v)
		}
		counts[string(n)]++
	}
	for _, want := range []string{"-1", "0", "1"} {
		if counts[want] == 0 {
			t.Errorf("600 draws never gave %s: %v", want, counts)
		}
	}
	if len(counts) != 3 {
		t.Errorf("draws outside [-1, 2): %v", counts)
	}
}

func TestMathRandomWithSeedRepeats(t *testing.T) {
	c := mustParse(t, "States.MathRandom(0, 999, $.seed)")
	first, err := c.Eval(mustJSON(t, `{"seed": 3}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, err := c.Eval(mustJSON(t, `{"seed": 3}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Fatalf("seed 3 gave %v then %v", first, again)
		}
	}
	differ := false
	for seed := range 20 {
		v, err := c.Eval(mustJSON(t, `{"seed": `+string(rune('0'+seed%10))+`}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		if v != first {
			differ = true
		}
	}
	if !differ {
		t.Error("every seed gave the same number")
	}
}

// javaRandom must draw what java.util.Random draws: these are the
// well-known first nextInt() values of new Random(0) and new Random(42).
func TestJavaRandomMatchesTheJVM(t *testing.T) {
	for seed, want := range map[int64]int32{0: -1155484576, 42: -1170105035} {
		if got := newJavaRandom(seed).next(32); got != want {
			t.Errorf("new Random(%d).nextInt() = %d, want %d", seed, got, want)
		}
	}
	// new Random(42).nextInt(10) is 0 on every JVM.
	if got := newJavaRandom(42).nextInt(10); got != 0 {
		t.Errorf("new Random(42).nextInt(10) = %d, want 0", got)
	}
}

// Eval must not modify its input: results may share structure with it.
func TestEvalLeavesInputAlone(t *testing.T) {
	input := mustJSON(t, `{"a": {"x": 1}, "b": {"y": 2}}`)
	c := mustParse(t, "States.JsonMerge($.a, $.b, false)")
	if _, err := c.Eval(input, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := jsonvalue.Marshal(input); string(b) != `{"a":{"x":1},"b":{"y":2}}` {
		t.Errorf("JsonMerge modified its input: %s", b)
	}
}

func mustJSON(t *testing.T, src string) any {
	t.Helper()
	v, err := jsonvalue.Decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestIs(t *testing.T) {
	for s, want := range map[string]bool{"States.Array()": true, "$.a": false, "$$.States": false, "States": false} {
		if Is(s) != want {
			t.Errorf("Is(%q) = %v, want %v", s, !want, want)
		}
	}
}
