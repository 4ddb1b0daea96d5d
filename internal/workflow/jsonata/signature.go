package jsonata

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// signature is a function's type signature, such as <s-nn?:s>, validated
// the way the reference does: the argument types are spelled as a string
// of symbols and matched with a regular expression built from the params.
type signature struct {
	params []sigParam
	re     *regexp.Regexp
	text   string
}

type sigParam struct {
	typ       string
	re        string
	context   bool
	contextRe *regexp.Regexp
	subtype   string
	isArray   bool
	optional  bool
}

func parseSignature(text string, pos int) (*signature, error) {
	s := &signature{text: text}
	inner := text[1 : len(text)-1]
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c == ':' {
			break
		}
		last := func() *sigParam { return &s.params[len(s.params)-1] }
		switch c {
		case 'b', 'n', 's', 'l', 'o':
			s.params = append(s.params, sigParam{typ: string(c), re: "[" + string(c) + "m]"})
		case 'a':
			s.params = append(s.params, sigParam{typ: "a", re: "[asnblfom]", isArray: true})
		case 'f':
			s.params = append(s.params, sigParam{typ: "f", re: "f"})
		case 'j':
			s.params = append(s.params, sigParam{typ: "j", re: "[asnblom]"})
		case 'x':
			s.params = append(s.params, sigParam{typ: "x", re: "[asnblfom]"})
		case '-':
			if len(s.params) == 0 {
				return nil, newError("S0401", pos+i+1, "Type signature error: - has no parameter")
			}
			p := last()
			p.context = true
			p.contextRe = regexp.MustCompile("^" + p.re + "$")
			p.re += "?"
		case '?', '+':
			if len(s.params) == 0 {
				return nil, newError("S0401", pos+i+1, "Type signature error: %c has no parameter", c)
			}
			last().re += string(c)
			last().optional = c == '?'
		case '(':
			end := strings.IndexByte(inner[i:], ')')
			if end < 0 {
				return nil, newError("S0401", pos+i+1, "Type signature has no closing )")
			}
			choice := inner[i+1 : i+end]
			if strings.Contains(choice, "<") {
				return nil, newError("S0402", pos+i+1, "Choice groups containing parameterized types are not supported")
			}
			s.params = append(s.params, sigParam{typ: "(" + choice + ")", re: "[" + choice + "m]"})
			i += end
		case '<':
			if len(s.params) == 0 || (last().typ != "a" && last().typ != "f") {
				return nil, newError("S0401", pos+i+1, "Type parameter can only be applied to functions and arrays")
			}
			depth, j := 1, i+1
			for ; j < len(inner) && depth > 0; j++ {
				switch inner[j] {
				case '<':
					depth++
				case '>':
					depth--
				}
			}
			last().subtype = inner[i+1 : j-1]
			i = j - 1
		}
	}
	var b strings.Builder
	b.WriteString("^")
	for _, p := range s.params {
		b.WriteString("(" + p.re + ")")
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, newError("S0401", pos, "Type signature error: %s", text)
	}
	s.re = re
	return s, nil
}

func symbol(v any) byte {
	switch v.(type) {
	case undefinedType:
		return 'm'
	case string:
		return 's'
	case float64, json.Number:
		return 'n'
	case bool:
		return 'b'
	case nil:
		return 'l'
	case []any, consArray, *sequence:
		return 'a'
	case *jsonvalue.Object, tuple:
		return 'o'
	case callable, *regexValue:
		return 'f'
	}
	return 'm'
}

var arrayTypes = map[string]string{"a": "arrays", "b": "booleans", "f": "functions", "n": "numbers", "o": "objects", "s": "strings"}

// validate checks args against the signature and returns them as the
// function receives them: context inserted for a missing "-" argument,
// single values wrapped where an array is expected.
func (s *signature) validate(args []any, context any, name string, pos int) ([]any, error) {
	sym := make([]byte, len(args))
	for i, a := range args {
		sym[i] = symbol(a)
	}
	m := s.re.FindStringSubmatch(string(sym))
	if m == nil {
		return nil, s.validationError(args, string(sym), name, pos)
	}
	out := make([]any, 0, len(s.params))
	ai := 0
	for pi, p := range s.params {
		match := m[pi+1]
		if match == "" {
			if p.context && p.contextRe != nil {
				if p.contextRe.MatchString(string(symbol(context))) {
					out = append(out, context)
				} else {
					return nil, newError("T0411", pos, "Context value is not a compatible type with argument %d of function %s", ai+1, fname(name))
				}
			} else {
				out = append(out, argAt(args, ai))
				ai++
			}
			continue
		}
		for k := 0; k < len(match); k++ {
			single := match[k]
			arg := argAt(args, ai)
			if p.typ == "a" {
				if single == 'm' {
					arg = Undefined
				} else {
					ok := true
					if p.subtype != "" {
						if single != 'a' && match != p.subtype {
							ok = false
						} else if single == 'a' {
							items, _ := arr(arg)
							if len(items) > 0 {
								t := symbol(items[0])
								if t != p.subtype[0] {
									ok = false
								} else {
									for _, it := range items {
										if symbol(it) != t {
											ok = false
											break
										}
									}
								}
							}
						}
						if !ok {
							return nil, newError("T0412", pos, "Argument %d of function %s must be an array of %q", ai+1, fname(name), arrayTypes[p.subtype])
						}
					}
					if single != 'a' {
						arg = []any{arg}
					}
				}
			}
			out = append(out, arg)
			ai++
		}
	}
	return out, nil
}

func argAt(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return Undefined
}

func fname(name string) string {
	if name == "" {
		return "undefined"
	}
	return `"` + name + `"`
}

func (s *signature) validationError(args []any, sym, name string, pos int) error {
	partial := "^"
	good := 0
	for _, p := range s.params {
		partial += p.re
		m := regexp.MustCompile(partial).FindString(sym)
		if !regexp.MustCompile(partial).MatchString(sym) {
			break
		}
		good = len(m)
	}
	return newError("T0410", pos, "Argument %d of function %s does not match function signature", good+1, fname(name))
}
