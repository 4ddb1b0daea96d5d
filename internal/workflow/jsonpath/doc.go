// Package jsonpath evaluates the JSONPath of the Amazon States Language the
// way Step Functions does (it follows Jayway JsonPath): Paths, which may
// select several nodes, and Reference Paths, which name exactly one node and
// can be written to by Set.
//
// Values are JSON as package jsonvalue holds it: *jsonvalue.Object, []any,
// json.Number, string, bool and nil. Nothing here mutates a value it
// is given; Set copies only the objects and arrays on the way to the node it
// writes.
//
// A wildcard or ".." visits an object's members in their order, as Step
// Functions does.
package jsonpath
