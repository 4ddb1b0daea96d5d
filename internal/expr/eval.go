package expr

import (
	"path"
	"strings"
)

// Facts are what a condition is evaluated against.
type Facts struct {
	// Branch is the branch the run's commit was taken from; "" when
	// detached or unknown.
	Branch string
	// Event says what started the run: one of Events.
	Event string
	// Env is the action's environment, without secrets; env.NAME of a
	// variable that is not set is ''.
	Env map[string]string
	// Matrix holds the cell's matrix values.
	Matrix map[string]string
	// Changed lists the slash-separated paths, relative to the project,
	// that changed since the base the run is compared with; when
	// ChangesKnown is false there is no base and changed() is true.
	Changed      []string
	ChangesKnown bool
	// Failed is set when an action this one comes after failed;
	// Cancelled when the run was cancelled.
	Failed    bool
	Cancelled bool
}

// Eval reports whether the condition holds. A condition without a status
// function holds only when nothing before failed (see UsesStatus).
func (e *Expr) Eval(f *Facts) bool {
	v := e.root.eval(f).b
	if !e.status {
		v = v && !f.Failed && !f.Cancelled
	}
	return v
}

type kind int

const (
	boolean kind = iota
	text
)

func (k kind) String() string {
	if k == boolean {
		return "condition"
	}
	return "string"
}

type value struct {
	b bool
	s string
}

type node interface {
	typ() kind
	pos() int
	eval(f *Facts) value
}

type str struct {
	at    int
	value string
}

func (n *str) typ() kind             { return text }
func (n *str) pos() int              { return n.at }
func (n *str) eval(f *Facts) value   { return value{s: n.value} }
func (n *boolLit) typ() kind         { return boolean }
func (n *boolLit) pos() int          { return n.at }
func (n *boolLit) eval(*Facts) value { return value{b: n.value} }

type boolLit struct {
	at    int
	value bool
}

// ref is branch, event, env.NAME or matrix.NAME.
type ref struct {
	at   int
	name string
}

func (n *ref) typ() kind { return text }
func (n *ref) pos() int  { return n.at }
func (n *ref) eval(f *Facts) value {
	switch n.name {
	case "branch":
		return value{s: f.Branch}
	case "event":
		return value{s: f.Event}
	}
	if name, ok := strings.CutPrefix(n.name, "env."); ok {
		return value{s: f.Env[name]}
	}
	return value{s: f.Matrix[strings.TrimPrefix(n.name, "matrix.")]}
}

type not struct {
	at int
	x  node
}

func (n *not) typ() kind           { return boolean }
func (n *not) pos() int            { return n.at }
func (n *not) eval(f *Facts) value { return value{b: !n.x.eval(f).b} }

type logic struct {
	at          int
	and         bool
	left, right node
}

func (n *logic) typ() kind { return boolean }
func (n *logic) pos() int  { return n.left.pos() }
func (n *logic) eval(f *Facts) value {
	l := n.left.eval(f).b
	if n.and != l {
		// false && x, true || x: the right side does not matter.
		return value{b: l}
	}
	return n.right.eval(f)
}

type equal struct {
	at          int
	negate      bool
	left, right node
}

func (n *equal) typ() kind { return boolean }
func (n *equal) pos() int  { return n.left.pos() }
func (n *equal) eval(f *Facts) value {
	return value{b: (n.left.eval(f) == n.right.eval(f)) != n.negate}
}

type call struct {
	at   int
	name string
	args []node
}

func (n *call) typ() kind { return boolean }
func (n *call) pos() int  { return n.at }
func (n *call) eval(f *Facts) value {
	arg := func(i int) string { return n.args[i].eval(f).s }
	switch n.name {
	case "success":
		return value{b: !f.Failed && !f.Cancelled}
	case "failure":
		return value{b: f.Failed}
	case "cancelled":
		return value{b: f.Cancelled}
	case "always":
		return value{b: true}
	case "startsWith":
		return value{b: strings.HasPrefix(arg(0), arg(1))}
	case "endsWith":
		return value{b: strings.HasSuffix(arg(0), arg(1))}
	case "contains":
		return value{b: strings.Contains(arg(0), arg(1))}
	case "changed":
		if !f.ChangesKnown {
			return value{b: true}
		}
		for i := range n.args {
			for _, file := range f.Changed {
				if MatchPath(arg(i), file) {
					return value{b: true}
				}
			}
		}
	}
	return value{}
}

// MatchPath reports whether file, a slash-separated relative path, is
// matched by pattern, a glob whose segments use path.Match syntax and
// where a segment "**" matches any number of directories. As for outputs
// and inputs, a pattern that names a directory matches everything beneath
// it: "docs" is the same as "docs/**".
func MatchPath(pattern, file string) bool {
	pat := strings.Split(path.Clean(pattern), "/")
	if len(pat) == 1 && pat[0] == "." {
		return true
	}
	return matchSegs(pat, strings.Split(file, "/"))
}

// matchSegs reports whether pat matches segs or a directory above it.
// Its work is bounded by len(pat)*len(segs) through the memo.
func matchSegs(pat, segs []string) bool {
	memo := make([]int8, (len(pat)+1)*(len(segs)+1))
	var m func(i, j int) bool
	m = func(i, j int) bool {
		k := i*(len(segs)+1) + j
		if memo[k] != 0 {
			return memo[k] > 0
		}
		var ok bool
		switch {
		case i == len(pat):
			ok = true // the pattern named a directory of file, or file
		case pat[i] == "**":
			ok = m(i+1, j) || j < len(segs) && m(i, j+1)
		case j == len(segs):
			ok = false
		default:
			hit, _ := path.Match(pat[i], segs[j])
			ok = hit && m(i+1, j+1)
		}
		memo[k] = map[bool]int8{true: 1, false: -1}[ok]
		return ok
	}
	return m(0, 0)
}
