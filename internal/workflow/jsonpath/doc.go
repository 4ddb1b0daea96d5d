// Package jsonpath evaluates the JSONPath of the Amazon States Language the
// way Step Functions does (it follows Jayway JsonPath): Paths, which may
// select several nodes, and Reference Paths, which name exactly one node and
// can be written to by Set.
//
// Values are JSON as encoding/json decodes it with UseNumber: map[string]any,
// []any, json.Number, string, bool and nil. Nothing here mutates a value it
// is given; Set copies only the objects and arrays on the way to the node it
// writes.
//
// Go maps keep no key order, so a wildcard or ".." visits an object's
// members in sorted key order (Step Functions visits them as written).
package jsonpath
