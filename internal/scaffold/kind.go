package scaffold

// Kind is the kind of project Detect found. Its value is the lower-case
// name shown to users, e.g. "go".
type Kind string

// The kinds, in detection precedence order.
const (
	Go      Kind = "go"
	Node    Kind = "node"
	Python  Kind = "python"
	Rust    Kind = "rust"
	Java    Kind = "java"
	Make    Kind = "make"
	Script  Kind = "script"
	Generic Kind = "generic"
)

// String returns the kind's user-facing name.
func (k Kind) String() string { return string(k) }
