package intrinsic

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// function is one intrinsic: how many arguments it takes (maxArgs -1 is
// any number, checked when the call runs), an optional check of its
// literal arguments when the definition is read, and the evaluation.
type function struct {
	name             string
	minArgs, maxArgs int
	check            func(c *Call) error
	eval             func(c *Call, args []any) (any, error)
}

func (f *function) arity() string {
	switch {
	case f.maxArgs < 0:
		return fmt.Sprintf("at least %d argument(s)", f.minArgs)
	case f.minArgs == f.maxArgs:
		return fmt.Sprintf("%d argument(s)", f.minArgs)
	}
	return fmt.Sprintf("%d to %d arguments", f.minArgs, f.maxArgs)
}

// Limits Step Functions documents for its intrinsics.
const (
	maxRangeItems    = 1000
	maxEncodeChars   = 10000
	maxHashChars     = 10000
	mathAddMin       = math.MinInt32
	mathAddMax       = math.MaxInt32
	maxExactInt      = 1 << 53
	deepMergeMessage = "States.JsonMerge only supports shallow merging: its third argument must be false"
)

// functions is the table of the eighteen intrinsics, by name.
var functions = map[string]*function{
	"States.Format":         {name: "States.Format", minArgs: 1, maxArgs: -1, check: compileFormat, eval: evalFormat},
	"States.StringToJson":   {name: "States.StringToJson", minArgs: 1, maxArgs: 1, eval: evalStringToJSON},
	"States.JsonToString":   {name: "States.JsonToString", minArgs: 1, maxArgs: 1, eval: evalJSONToString},
	"States.Array":          {name: "States.Array", minArgs: 0, maxArgs: -1, eval: evalArray},
	"States.ArrayPartition": {name: "States.ArrayPartition", minArgs: 2, maxArgs: 2, eval: evalArrayPartition},
	"States.ArrayContains":  {name: "States.ArrayContains", minArgs: 2, maxArgs: 2, eval: evalArrayContains},
	"States.ArrayRange":     {name: "States.ArrayRange", minArgs: 3, maxArgs: 3, eval: evalArrayRange},
	"States.ArrayGetItem":   {name: "States.ArrayGetItem", minArgs: 2, maxArgs: 2, eval: evalArrayGetItem},
	"States.ArrayLength":    {name: "States.ArrayLength", minArgs: 1, maxArgs: 1, eval: evalArrayLength},
	"States.ArrayUnique":    {name: "States.ArrayUnique", minArgs: 1, maxArgs: 1, eval: evalArrayUnique},
	"States.Base64Encode":   {name: "States.Base64Encode", minArgs: 1, maxArgs: 1, eval: evalBase64Encode},
	"States.Base64Decode":   {name: "States.Base64Decode", minArgs: 1, maxArgs: 1, eval: evalBase64Decode},
	"States.Hash":           {name: "States.Hash", minArgs: 2, maxArgs: 2, eval: evalHash},
	"States.JsonMerge":      {name: "States.JsonMerge", minArgs: 3, maxArgs: 3, check: checkJSONMerge, eval: evalJSONMerge},
	"States.MathRandom":     {name: "States.MathRandom", minArgs: 2, maxArgs: 3, eval: evalMathRandom},
	"States.MathAdd":        {name: "States.MathAdd", minArgs: 2, maxArgs: 2, eval: evalMathAdd},
	"States.StringSplit":    {name: "States.StringSplit", minArgs: 2, maxArgs: 2, eval: evalStringSplit},
	"States.UUID":           {name: "States.UUID", minArgs: 0, maxArgs: 0, eval: evalUUID},
}

func functionNames() string {
	names := make([]string, 0, len(functions))
	for n := range functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func arrayArg(v any, which string) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		if which != "" {
			which += " "
		}
		return nil, fmt.Errorf("the %sargument must be an array, got %s", which, describe(v))
	}
	return a, nil
}

// roundArg reads an integer argument of States.MathAdd, which rounds a
// fractional one half up like Java's Math.round (2.5 -> 3, -2.5 -> -2),
// as recorded from AWS.
func roundArg(v any, what string) (int64, error) {
	f, err := numberArg(v, what)
	if err != nil {
		return 0, err
	}
	return int64(math.Floor(f + 0.5)), nil
}

// truncArg reads the integer argument of the other intrinsics, which
// Step Functions truncates toward zero (ArrayRange(1.6, ...) starts at 1,
// ArrayPartition(..., 2.6) makes chunks of 2), as observed on AWS.
func truncArg(v any, what string) (int64, error) {
	f, err := numberArg(v, what)
	if err != nil {
		return 0, err
	}
	return int64(math.Trunc(f)), nil
}

func numberArg(v any, what string) (float64, error) {
	f, ok := toFloat(v)
	if !ok {
		return 0, fmt.Errorf("the %s must be a number, got %s", what, describe(v))
	}
	// Beyond 2^53 a JSON number no longer holds every integer exactly.
	if math.IsNaN(f) || math.Abs(f) > maxExactInt {
		return 0, fmt.Errorf("the %s %s is out of range", what, compact(v))
	}
	return f, nil
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	}
	return 0, false
}

func limitedString(v any, limit int) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("the argument must be a string, got %s", describe(v))
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return "", fmt.Errorf("the argument has %d characters; at most %d are allowed", n, limit)
	}
	return s, nil
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "the string " + compact(v)
	case []any:
		return "an array"
	case *jsonvalue.Object:
		return "an object"
	case bool:
		return "the boolean " + compact(v)
	}
	return "the number " + compact(v)
}

// canonical is a text that two values share exactly when Step Functions'
// JSON nodes are equal (States.ArrayUnique): a number written as an
// integer (1) differs from one written with a fraction or exponent (1.0);
// numbers of the same kind compare by value.

func sortedKeys(m *jsonvalue.Object) []string {
	keys := m.Keys()
	sort.Strings(keys)
	return keys
}
