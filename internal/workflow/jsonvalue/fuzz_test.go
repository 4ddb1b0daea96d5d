package jsonvalue

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
	"testing"
)

// Decode accepts exactly the texts encoding/json accepts (one value, then
// only white space) and reads the same value from them; Marshal writes
// text that reads back as that value.
func FuzzDecodeAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,"x\u00e9",null,true]}`, `[]`, `"\ud800"`, `{"a":1,"a":2}`, `-0.0`, `01`, `{"a" 1}`, " [1] ", `[1,]`, "\"\xff\"", `1 2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(data)
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want any
		stdErr := dec.Decode(&want)
		if stdErr == nil {
			if _, tail := dec.Token(); tail != io.EOF {
				stdErr = ErrTrailingData
			}
		}
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("Decode(%q) error %v, encoding/json %v", data, err, stdErr)
		}
		if err != nil {
			return
		}
		if !Equal(got, fromStd(want)) {
			t.Fatalf("Decode(%q) = %#v, encoding/json reads %#v", data, got, want)
		}
		// What Marshal writes reads back as the same value.
		text, err := Marshal(got)
		if err != nil {
			t.Fatalf("Marshal(Decode(%q)): %v", data, err)
		}
		again, err := Decode(text)
		if err != nil || !Equal(again, got) {
			t.Fatalf("Marshal(Decode(%q)) = %s reads back as %#v, %v", data, text, again, err)
		}
	})
}

// fromStd brings encoding/json's value into this package's form.
func fromStd(v any) any {
	switch v := v.(type) {
	case json.Number:
		return CanonicalNumber(v)
	case []any:
		for i := range v {
			v[i] = fromStd(v[i])
		}
		return v
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := NewObject(len(v))
		for _, k := range keys {
			o.Set(k, fromStd(v[k]))
		}
		return o
	}
	return v
}
