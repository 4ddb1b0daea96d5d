package intrinsic

import (
	"errors"
	"fmt"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// compileFormat splits a literal template once, so that Eval does not.
func compileFormat(c *Call) error {
	if len(c.args) == 0 {
		return nil
	}
	first := c.args[0]
	if _, ok := first.value.(string); first.kind != argLiteral || !ok {
		return nil
	}
	pieces, ok := formatPieces(first.raw, true)
	c.format, c.formatErr = pieces, !ok
	return nil
}

func evalFormat(c *Call, args []any) (any, error) {
	pieces := c.format
	switch {
	case c.formatErr:
		return nil, errors.New("the template has a brace that is neither {} nor escaped")
	case pieces == nil:
		tpl, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("the first argument must be a string, got %s", describe(args[0]))
		}
		if pieces, ok = formatPieces(tpl, false); !ok {
			return nil, errors.New("the template has a brace that is not part of {}")
		}
	}
	if len(pieces)-1 != len(args)-1 {
		return nil, fmt.Errorf("the template has %d {} placeholder(s) but %d value argument(s) follow it", len(pieces)-1, len(args)-1)
	}
	var b strings.Builder
	for i, p := range pieces {
		b.WriteString(p)
		if i+1 < len(pieces) {
			writeFormatted(&b, args[i+1], false)
		}
	}
	return b.String(), nil
}

// writeFormatted renders a value the way States.Format does: strings as
// they are, numbers as written, null as null, arrays as [a, b] and objects
// as {k=v, k2=v2} (Java's rendering of lists and maps), members in order;
// sorted sorts them instead, for comparisons that ignore member order.
func writeFormatted(b *strings.Builder, v any, sorted bool) {
	switch v := v.(type) {
	case string:
		b.WriteString(v)
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFormatted(b, x, sorted)
		}
		b.WriteByte(']')
	case *jsonvalue.Object:
		keys := v.Keys()
		if sorted {
			keys = sortedKeys(v)
		}
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteByte('=')
			x, _ := v.Get(k)
			writeFormatted(b, x, sorted)
		}
		b.WriteByte('}')
	default:
		b.WriteString(compact(v))
	}
}
