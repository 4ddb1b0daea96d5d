// Package jsonvalue holds JSON values the way Step Functions does: objects
// keep their members in the order they were written or added, numbers keep
// their text as json.Number. The workflow packages share this form: *Object
// for objects, []any for arrays, json.Number, string, bool and nil.
//
// Step Functions' JSON reader (Java's Jackson) keeps object members in
// insertion order, so outputs, JSON text made by States.JsonToString and
// history payloads list keys as the input wrote them; Go maps cannot do
// that. Where Step Functions builds an object in a java.util.HashMap (a
// payload template's ".$" fields, States.JsonMerge) its members come out
// in that map's order, which JavaHashOrder reproduces.
//
// Values are shared freely once built (by payload templates, by Map
// iterations reading one input), so nothing modifies an *Object that
// another part may hold: whoever changes one Clones it first.
package jsonvalue
