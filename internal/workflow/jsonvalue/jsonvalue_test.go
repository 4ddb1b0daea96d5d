package jsonvalue

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestDecodeKeepsKeyOrderAndMarshalWritesIt(t *testing.T) {
	src := `{"zeta":1,"alpha":{"y":[true,null,"<a&b>"],"x":2.50},"mid":"\u00e9\n","dup":1,"dup":2}`
	v, err := Decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"zeta":1,"alpha":{"y":[true,null,"<a&b>"],"x":2.5},"mid":"é\n","dup":2}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// json.Marshal reaches the same text through MarshalJSON (escaping HTML).
	std, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(std), `{"zeta":1,"alpha":{"y"`) {
		t.Errorf("json.Marshal lost the order: %s", std)
	}
}

func TestSetAppendsNewKeysAndKeepsThePlaceOfOldOnes(t *testing.T) {
	var o Object
	for _, k := range []string{"c", "a", "b"} {
		o.Set(k, k)
	}
	o.Set("a", "A")
	o.Set("d", "D")
	o.Delete("c")
	if got := strings.Join(o.Keys(), ","); got != "a,b,d" {
		t.Errorf("keys %s, want a,b,d", got)
	}
	if v, _ := o.Get("a"); v != "A" {
		t.Errorf("a = %v", v)
	}
}

// Large objects keep an index; it must follow Set, Delete and Clone.
func TestLargeObjectIndexFollowsChanges(t *testing.T) {
	o := NewObject(0)
	for i := range 40 {
		o.Set(string(rune('A'+i)), i)
	}
	c := o.Clone()
	c.Delete("B")
	c.Set("new", "n")
	if _, ok := o.Get("new"); ok {
		t.Error("Clone shares the index with the original")
	}
	if v, ok := c.Get(string(rune('A' + 39))); !ok || v != 39 {
		t.Errorf("after Delete the last key reads %v, %v", v, ok)
	}
	if v, ok := o.Get("B"); !ok || v != 1 {
		t.Errorf("the original lost B: %v %v", v, ok)
	}
	if c.Len() != 40 || c.Keys()[39] != "new" {
		t.Errorf("clone has %d keys, last %q", c.Len(), c.Keys()[c.Len()-1])
	}
}

func TestDecodeErrorsAreEncodingJSONs(t *testing.T) {
	for src, want := range map[string]string{
		`{bad`:      "invalid character 'b' looking for beginning of object key string",
		`{"a":1} x`: ErrTrailingData.Error(),
		``:          "EOF",
		`[1,]`:      "invalid character ']' looking for beginning of value",
		`"\x01"`:    "invalid character",
	} {
		_, err := Decode([]byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%q) = %v, want %q", src, err, want)
		}
	}
}

func TestDecodeStringsLikeEncodingJSON(t *testing.T) {
	for _, src := range []string{`"plain"`, `"tab\there"`, `"\ud83d\ude00"`, "\"bad \xff utf8\"", `"é"`, `"\u2028"`} {
		v, err := Decode([]byte(src))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		var want string
		if err := json.Unmarshal([]byte(src), &want); err != nil {
			t.Fatal(err)
		}
		if v != want {
			t.Errorf("%s: %q, want %q", src, v, want)
		}
		out, _ := Marshal(v)
		std, _ := json.Marshal(want)
		if string(out) != string(std) {
			t.Errorf("Marshal(%q) = %s, encoding/json gives %s", want, out, std)
		}
	}
}

func TestEqualIgnoresMemberOrderOnly(t *testing.T) {
	a, _ := Decode([]byte(`{"a":1,"b":[1,{"x":1.0,"y":null}]}`))
	b, _ := Decode([]byte(`{"b":[1,{"y":null,"x":1}],"a":1}`))
	c, _ := Decode([]byte(`{"b":[{"y":null,"x":1},1],"a":1}`))
	if !Equal(a, b) {
		t.Error("objects differing only in member order are not Equal")
	}
	if Equal(a, c) {
		t.Error("arrays in a different order are Equal")
	}
}

// The orders java.util.HashMap gives, as Step Functions' outputs show them.
func TestJavaHashOrder(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"original_input", "iteration_input_value", "iteration_index", "from_input_constant"},
			[]string{"iteration_input_value", "from_input_constant", "iteration_index", "original_input"}},
		{[]string{"LambdaOutput", "ContextObjectValue"}, []string{"ContextObjectValue", "LambdaOutput"}},
		{[]string{"a", "b", "d", "c"}, []string{"a", "b", "c", "d"}},
		{[]string{"nested", "keep"}, []string{"keep", "nested"}},
		// "Aa" and "BB" share a hash: insertion order decides.
		{[]string{"BB", "Aa"}, []string{"BB", "Aa"}},
	} {
		if got := JavaHashOrder(c.in); !slices.Equal(got, c.want) {
			t.Errorf("JavaHashOrder(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Past 12 keys the table grows to 32 buckets: "q" (113) is in bucket 1
	// of 16, before "b" (98, bucket 2), but in bucket 17 of 32, after "m".
	if got := JavaHashOrder([]string{"q", "b"}); !slices.Equal(got, []string{"q", "b"}) {
		t.Errorf("2 keys: %q", got)
	}
	keys := []string{"q", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"}
	if got := JavaHashOrder(keys); got[0] != "b" || got[12] != "q" {
		t.Errorf("13 keys: %q", got)
	}
}
