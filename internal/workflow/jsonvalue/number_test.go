package jsonvalue

import (
	"encoding/json"
	"testing"
)

// Expected forms are Java's Double.toString and Long.toString, which Step
// Functions' Jackson writes.
func TestCanonicalNumber(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-0": "0", "7": "7", "-12": "-12",
		"9223372036854775807":  "9223372036854775807",
		"-9223372036854775808": "-9223372036854775808",
		"9223372036854775808":  "9.223372036854776E18",
		"1.50":                 "1.5",
		"1.0":                  "1.0",
		"2.5e0":                "2.5",
		"1e2":                  "100.0",
		"-3E2":                 "-300.0",
		"0.001":                "0.001",
		"0.0001":               "1.0E-4",
		"1234567.5":            "1234567.5",
		"12345678.9":           "1.23456789E7",
		"1e21":                 "1.0E21",
		"-0.0":                 "-0.0",
		"0.1":                  "0.1",
		"1e400":                "1e400",
	} {
		if got := CanonicalNumber(json.Number(in)); string(got) != want {
			t.Errorf("CanonicalNumber(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestCanonicalNumbersWalksValues(t *testing.T) {
	inner, v := &Object{}, &Object{}
	inner.Set("b", json.Number("-0"))
	v.Set("a", []any{json.Number("1.50"), inner})
	v.Set("s", "1.50")
	CanonicalNumbers(v)
	b, _ := Marshal(v)
	if string(b) != `{"a":[1.5,{"b":0}],"s":"1.50"}` {
		t.Errorf("got %s", b)
	}
	if got := CanonicalNumbers(json.Number("1e2")); got != json.Number("100.0") {
		t.Errorf("bare number: %v", got)
	}
}
