package jsonata

import (
	"reflect"
	"testing"
)

func TestContextReferences(t *testing.T) {
	for expr, want := range map[string][]string{
		"$states.input.phone":                   nil,
		"$states.input.items[value > 3].name":   nil,
		"phone":                                 {"phone"},
		"a.b":                                   {"a"},
		"$count(items) + total":                 {"items", "total"},
		`{"k": name, "l": [x, $y]}`:             {"name", "x"},
		"cond ? $a : other":                     {"cond", "other"},
		"$map($states.input, function($v) {v})": nil,
		"($x := field; $x)":                     {"field"},
		"$states.input ~> $count()":             nil,
		"$sort($states.input.l, function($a, $b) {$a > $b})": nil,
	} {
		e, err := Compile(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		var got []string
		for _, r := range e.ContextReferences() {
			got = append(got, r.Name)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", expr, got, want)
		}
	}
}
