// Package asl holds state machine definitions in the Amazon States Language
// (JSONPath query language): the types the interpreter runs, decoding from
// JSON or YAML, and validation with located errors. A .json file, or any
// source that opens with "{", is read as strict JSON (AWS refuses trailing
// commas, comments and single quotes); other sources are YAML.
//
// Load is the way in for a definition a user wrote: it runs Validate, which
// reports every problem at once, each with the JSON pointer of the
// offending field and its line and column in the source (JSON and YAML
// alike), and only then Decode. Validate checks the States Language
// specification and the limits AWS documents: required and allowed fields
// of each state type and their types, transitions that stay inside their
// scope (a Parallel branch or Map processor), reachable states and a
// terminal state in every scope, Choice rules and their operands, Retry and
// Catch (States.ALL alone and last; unknown "States." names warned of), paths,
// reference paths, payload templates with their ".$" fields and intrinsic
// calls, Wait, timeouts and heartbeats, and the Map fields including
// ItemReader, ItemBatcher and the Distributed-only ones, variables
// (Assign), and the JSONata query language: the fields of JSONata states,
// their "{% expression %}" strings (compiled), and the rules for mixing
// (JSONPath-only fields refused in a JSONata state and the reverse; no
// JSONPath state in a machine whose top level is JSONata).
//
// Failure, the named error that Retry and Catch match on, and the standard
// error names live here too.
package asl
