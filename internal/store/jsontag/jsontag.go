// Package jsontag checks that types written to the journal or the data
// directory as JSON name every field explicitly, so that renaming a Go
// field cannot silently change the keys an old journal was written with.
package jsontag

import (
	"encoding"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
)

var (
	marshaler     = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// Missing lists, as "Type.Field", every exported field of the structs
// reachable from types (through fields, pointers, slices, arrays and
// maps) that encoding/json would name after the Go field: one with no
// json tag, or a tag with an empty name. An embedded struct without a tag
// is allowed, its fields are checked in turn, as encoding/json lifts them.
// Types that encode themselves (json.Marshaler, encoding.TextMarshaler,
// such as time.Time and json.RawMessage) are not looked into.
func Missing(types ...reflect.Type) []string {
	seen := map[reflect.Type]bool{}
	var out []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		if t.Implements(marshaler) || reflect.PointerTo(t).Implements(marshaler) ||
			t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
			return
		}
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(t.Elem())
		case reflect.Map:
			walk(t.Key())
			walk(t.Elem())
		case reflect.Struct:
			for i := range t.NumField() {
				f := t.Field(i)
				tag, tagged := f.Tag.Lookup("json")
				name, _, _ := strings.Cut(tag, ",")
				switch {
				case tag == "-":
					continue
				case f.Anonymous && !tagged:
					// Lifted into the parent, unexported or not.
				case !f.IsExported():
					continue
				case name == "":
					out = append(out, t.String()+"."+f.Name)
				}
				walk(f.Type)
			}
		}
	}
	for _, t := range types {
		walk(t)
	}
	sort.Strings(out)
	return out
}
