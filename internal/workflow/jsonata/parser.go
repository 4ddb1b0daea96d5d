package jsonata

import (
	"fmt"
)

type parser struct {
	lex      lexer
	depth    int // nesting of expression calls, bounded by maxDepth
	maxDepth int
	tok      token // current token, not yet consumed
	ancestry []*node
	labels   int
}

func parse(src string, maxDepth int) (*node, error) {
	p := &parser{lex: lexer{src: src}, maxDepth: maxDepth}
	if err := p.advance(true); err != nil {
		return nil, err
	}
	raw, err := p.expression(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEnd {
		return nil, newError("S0201", p.tok.pos, "Syntax error: %s", quoteTok(p.tok))
	}
	return p.process(raw)
}

func quoteTok(t token) string {
	switch t.kind {
	case tokEnd:
		return "(end)"
	case tokNumber:
		return formatNumber(t.num)
	case tokString:
		return fmt.Sprintf("%q", t.value)
	}
	return fmt.Sprintf("%q", t.value)
}

// advance reads the next token; prefix tells the lexer a value may start.
func (p *parser) advance(prefix bool) error {
	t, err := p.lex.next(prefix)
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) expect(op string, prefix bool) error {
	if p.tok.kind == tokEnd {
		return newError("S0203", p.tok.pos, "Expected %q before end of expression", op)
	}
	if p.tok.kind != tokOperator || p.tok.value != op {
		return newError("S0202", p.tok.pos, "Expected %q, got %s", op, quoteTok(p.tok))
	}
	return p.advance(prefix)
}

func (p *parser) isOp(op string) bool { return p.tok.kind == tokOperator && p.tok.value == op }

func (p *parser) lbp() int {
	switch p.tok.kind {
	case tokOperator:
		switch p.tok.value {
		case ":", ";", ",", ")", "]", "}", "|", "..", "!", "~":
			return 0 // these only end or separate; they have no infix form
		}
		return operators[p.tok.value]
	case tokEnd:
		return 0
	}
	return 0
}

func (p *parser) expression(rbp int) (*node, error) {
	p.depth++
	defer func() { p.depth-- }()
	t := p.tok
	if p.depth > p.maxDepth {
		return nil, limitError(t.pos, "MaxDepth", p.maxDepth, "expression nesting")
	}
	if t.kind == tokEnd {
		// As in the reference, the end parses as a node that post-processing
		// rejects, so a missing closing bracket is reported first.
		return &node{kind: "end", pos: t.pos}, nil
	}
	// The reference lexes the token after a value's first token without
	// regular expressions: "(/a/)" is a syntax error, "f(/a/)" is not.
	if err := p.advance(false); err != nil {
		return nil, err
	}
	left, err := p.nud(t)
	if err != nil {
		return nil, err
	}
	for rbp < p.lbp() {
		t = p.tok
		if err := p.advance(true); err != nil {
			return nil, err
		}
		left, err = p.led(t, left)
		if err != nil {
			return nil, err
		}
	}
	return left, nil
}

func (p *parser) nud(t token) (*node, error) {
	switch t.kind {
	case tokName:
		return &node{kind: "name", value: t.value, pos: t.pos}, nil
	case tokVariable:
		return &node{kind: "variable", value: t.value, pos: t.pos}, nil
	case tokString:
		return &node{kind: "string", lit: t.value, value: t.value, pos: t.pos}, nil
	case tokNumber:
		return &node{kind: "number", lit: t.num, num: t.num, pos: t.pos}, nil
	case tokValue:
		return &node{kind: "value", lit: t.lit, value: t.value, pos: t.pos}, nil
	case tokRegex:
		re, err := compileRegex(t.value, t.flags, t.pos)
		if err != nil {
			return nil, err
		}
		return &node{kind: "regex", regex: re, pos: t.pos}, nil
	}
	switch t.value {
	case "and", "or", "in":
		return &node{kind: "name", value: t.value, pos: t.pos}, nil
	case "*":
		return &node{kind: "wildcard", value: "*", pos: t.pos}, nil
	case "**":
		return &node{kind: "descendant", value: "**", pos: t.pos}, nil
	case "%":
		return &node{kind: "parent", pos: t.pos}, nil
	case "-", "!":
		if t.value == "!" {
			break
		}
		e, err := p.expression(70)
		if err != nil {
			return nil, err
		}
		return &node{kind: "unary", value: "-", expression: e, pos: t.pos}, nil
	case "(":
		n := &node{kind: "block", pos: t.pos}
		for !p.isOp(")") {
			e, err := p.expression(0)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, e)
			if !p.isOp(";") {
				break
			}
			if err := p.advance(true); err != nil {
				return nil, err
			}
		}
		return n, p.expect(")", false)
	case "[":
		n := &node{kind: "unary", value: "[", pos: t.pos}
		if !p.isOp("]") {
			for {
				item, err := p.expression(0)
				if err != nil {
					return nil, err
				}
				if p.isOp("..") {
					pos := p.tok.pos
					if err := p.advance(true); err != nil {
						return nil, err
					}
					rhs, err := p.expression(0)
					if err != nil {
						return nil, err
					}
					item = &node{kind: "binary", value: "..", lhs: item, rhs: rhs, pos: pos}
				}
				n.items = append(n.items, item)
				if !p.isOp(",") {
					break
				}
				if err := p.advance(true); err != nil {
					return nil, err
				}
			}
		}
		return n, p.expect("]", false)
	case "{":
		pairs, err := p.objectPairs()
		if err != nil {
			return nil, err
		}
		return &node{kind: "unary", value: "{", pairs: pairs, pos: t.pos}, nil
	case "|":
		n := &node{kind: "transform", pos: t.pos}
		var err error
		if n.pattern, err = p.expression(0); err != nil {
			return nil, err
		}
		if err := p.expect("|", true); err != nil {
			return nil, err
		}
		if n.update, err = p.expression(0); err != nil {
			return nil, err
		}
		if p.isOp(",") {
			if err := p.advance(true); err != nil {
				return nil, err
			}
			if n.delete, err = p.expression(0); err != nil {
				return nil, err
			}
		}
		return n, p.expect("|", true)
	}
	return nil, newError("S0211", t.pos, "The symbol %q cannot be used as a unary operator", t.value)
}

func (p *parser) objectPairs() ([][2]*node, error) {
	var pairs [][2]*node
	if !p.isOp("}") {
		for {
			k, err := p.expression(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect(":", true); err != nil {
				return nil, err
			}
			v, err := p.expression(0)
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, [2]*node{k, v})
			if !p.isOp(",") {
				break
			}
			if err := p.advance(true); err != nil {
				return nil, err
			}
		}
	}
	return pairs, p.expect("}", false)
}

func (p *parser) led(t token, left *node) (*node, error) {
	switch t.value {
	case "(":
		n := &node{kind: "function", procedure: left, pos: t.pos}
		if !p.isOp(")") {
			for {
				if p.tok.kind == tokOperator && p.tok.value == "?" {
					n.kind = "partial"
					n.items = append(n.items, &node{kind: "operator", value: "?", pos: p.tok.pos})
					if err := p.advance(false); err != nil {
						return nil, err
					}
				} else {
					a, err := p.expression(0)
					if err != nil {
						return nil, err
					}
					n.items = append(n.items, a)
				}
				if !p.isOp(",") {
					break
				}
				if err := p.advance(true); err != nil {
					return nil, err
				}
			}
		}
		if err := p.expect(")", false); err != nil {
			return nil, err
		}
		if left.kind == "name" && (left.value == "function" || left.value == "λ") {
			return p.lambda(n)
		}
		return n, nil
	case "[":
		if p.isOp("]") {
			step := left
			for step.kind == "binary" && step.value == "[" {
				step = step.lhs
			}
			step.keepArray = true
			return left, p.advance(false)
		}
		rhs, err := p.expression(0)
		if err != nil {
			return nil, err
		}
		return &node{kind: "binary", value: "[", lhs: left, rhs: rhs, pos: t.pos}, p.expect("]", false)
	case "{":
		pairs, err := p.objectPairs()
		if err != nil {
			return nil, err
		}
		return &node{kind: "binary", value: "{", lhs: left, pairs: pairs, pos: t.pos}, nil
	case "?":
		n := &node{kind: "condition", condition: left, pos: t.pos}
		var err error
		if n.then, err = p.expression(0); err != nil {
			return nil, err
		}
		if p.isOp(":") {
			if err := p.advance(true); err != nil {
				return nil, err
			}
			if n.els, err = p.expression(0); err != nil {
				return nil, err
			}
		}
		return n, nil
	case ":=":
		if left.kind != "variable" {
			return nil, newError("S0212", left.pos, "The left side of := must be a variable name (start with $)")
		}
		rhs, err := p.expression(operators[":="] - 1)
		if err != nil {
			return nil, err
		}
		return &node{kind: "binary", value: ":=", lhs: left, rhs: rhs, pos: t.pos}, nil
	case "@", "#":
		rhs, err := p.expression(operators[t.value])
		if err != nil {
			return nil, err
		}
		if rhs.kind != "variable" {
			return nil, newError("S0214", rhs.pos, "The right side of %s must be a variable name (start with $)", t.value)
		}
		return &node{kind: "binary", value: t.value, lhs: left, rhs: rhs, pos: t.pos}, nil
	case "^":
		if err := p.expect("(", true); err != nil {
			return nil, err
		}
		n := &node{kind: "binary", value: "^", lhs: left, pos: t.pos}
		for {
			desc := false
			if p.isOp("<") || p.isOp(">") {
				desc = p.tok.value == ">"
				if err := p.advance(true); err != nil {
					return nil, err
				}
			}
			e, err := p.expression(0)
			if err != nil {
				return nil, err
			}
			n.terms = append(n.terms, sortTerm{descending: desc, expression: e})
			if !p.isOp(",") {
				break
			}
			if err := p.advance(true); err != nil {
				return nil, err
			}
		}
		return n, p.expect(")", false)
	case ".", "+", "-", "*", "/", "%", "=", "<", ">", "!=", "<=", ">=", "&", "and", "or", "in", "~>", "..":
		rhs, err := p.expression(operators[t.value])
		if err != nil {
			return nil, err
		}
		return &node{kind: "binary", value: t.value, lhs: left, rhs: rhs, pos: t.pos}, nil
	}
	return nil, newError("S0201", t.pos, "Syntax error: %s", quoteTok(t))
}

// lambda turns a call of "function" into a lambda definition: the call's
// arguments are the parameters, then come an optional signature and the body.
func (p *parser) lambda(call *node) (*node, error) {
	n := &node{kind: "lambda", pos: call.pos}
	for _, a := range call.items {
		if a.kind != "variable" {
			return nil, newError("S0208", a.pos, "Parameter %d of function definition must be a variable name (start with $)", len(n.params)+1)
		}
		n.params = append(n.params, a)
	}
	if p.isOp("<") {
		// The signature is raw text up to the matching >.
		src := p.lex.src
		start := p.tok.pos
		depth := 1
		i := start
		for i < len(src) && depth > 0 {
			switch src[i] {
			case '<':
				depth++
			case '>':
				depth--
			}
			i++
		}
		if depth > 0 {
			return nil, newError("S0401", len(src), "Type signature has no closing >")
		}
		sig, err := parseSignature(src[start-1:i], start)
		if err != nil {
			return nil, err
		}
		n.signature = sig
		p.lex.pos = i
		if err := p.advance(true); err != nil {
			return nil, err
		}
	}
	if err := p.expect("{", true); err != nil {
		return nil, err
	}
	body, err := p.expression(0)
	if err != nil {
		return nil, err
	}
	n.body = body
	return n, p.expect("}", false)
}
