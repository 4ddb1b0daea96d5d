// Package payload compiles and evaluates States Language payload templates
// (Parameters, ResultSelector, ItemSelector, ...): JSON in which every field
// whose name ends in ".$" takes its value from a path or an intrinsic call.
package payload
