package jsonata

// node is one node of the syntax tree, shaped as the reference
// implementation's: one record whose fields each kind uses in part, so the
// evaluator follows the reference step by step.
type node struct {
	kind  string // path, binary, unary, name, string, number, value, wildcard, descendant, parent, condition, block, bind, regex, function, partial, lambda, variable, apply, transform, sort, operator
	value string // operator or name
	num   float64
	lit   any // literal of a string, number or value node
	pos   int

	lhs, rhs   *node
	expression *node   // unary operand
	items      []*node // array constructor items, block expressions, call arguments
	pairs      [][2]*node
	steps      []*node
	procedure  *node
	params     []*node // lambda parameters
	signature  *signature
	body       *node
	condition  *node
	then, els  *node
	pattern    *node
	update     *node
	delete     *node
	regex      *regexValue
	terms      []sortTerm

	predicate []stage // predicates of a non-path expression
	stages    []stage // predicates and index bindings of a path step
	group     *groupBy

	keepArray          bool
	keepSingletonArray bool
	consArray          bool
	tuple              bool
	focus              string
	index              string
	hasIndex           bool
	ancestor           *slot
	seekingParent      []*slot
	slot               *slot
	thunk              bool
}

type stage struct {
	filter *node  // a predicate
	index  string // else a positional binding #$name
	pos    int
}

type groupBy struct {
	pairs [][2]*node
	pos   int
}

type sortTerm struct {
	descending bool
	expression *node
}

// slot names the frame variable through which a parent operator %
// reaches the step it refers to.
type slot struct {
	label string
	level int
	index int
}
