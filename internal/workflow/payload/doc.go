// Package payload compiles and evaluates States Language payload templates
// (Parameters, ResultSelector, ItemSelector, ...): JSON in which every field
// whose name ends in ".$" takes its value from a path or an intrinsic call.
//
// A result object lists the template's plain fields first, in the order
// written, then its ".$" fields in the order a java.util.HashMap of their
// names iterates them, as Step Functions' recorded outputs do.
package payload
