// Package expr is the small expression language of `if:` conditions in
// velocity.yml: branch == 'main' && changed('docs/**'). It is parsed and
// type-checked once, when the definition is validated, and evaluated in
// Go when an action is ready, never by a shell: the values it reads
// (branch names, variables) are untrusted text and only ever compared.
//
// Grammar, loosest binding first:
//
//	expr    = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = "!" unary | compare
//	compare = operand [ ( "==" | "!=" ) operand ]
//	operand = STRING | "true" | "false" | NAME { "." NAME }
//	        | NAME "(" [ expr { "," expr } ] ")" | "(" expr ")"
//
// Strings are written in single quotes; a quote inside one is written
// twice, as in SQL.
// Values are strings or booleans; comparing one with the other, or using
// a string as a condition, is an error at validate time.
package expr
