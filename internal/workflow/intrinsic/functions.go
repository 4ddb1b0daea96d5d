package intrinsic

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	randv2 "math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
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

// --- generic ---

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
			writeFormatted(&b, args[i+1])
		}
	}
	return b.String(), nil
}

// writeFormatted renders a value the way States.Format does: strings as
// they are, numbers as written, null as null, arrays as [a, b] and objects
// as {k=v, k2=v2} (Java's rendering of lists and maps).
func writeFormatted(b *strings.Builder, v any) {
	switch v := v.(type) {
	case string:
		b.WriteString(v)
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFormatted(b, x)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(v) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteByte('=')
			writeFormatted(b, v[k])
		}
		b.WriteByte('}')
	default:
		b.WriteString(compact(v))
	}
}

// --- JSON ---

func evalStringToJSON(_ *Call, args []any) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("the argument must be a string, got %s", describe(args[0]))
	}
	// Step Functions reads blank text as null (recorded from AWS), and
	// numbers as its JSON parser holds them (-0 is 0, 1.50 is 1.5).
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the argument is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("the argument is not valid JSON: it has data after the first value")
	}
	return jsonpath.CanonicalNumbers(v), nil
}

func evalJSONToString(_ *Call, args []any) (any, error) {
	s, err := encode(args[0])
	if err != nil {
		return nil, fmt.Errorf("the argument cannot be written as JSON: %v", err)
	}
	return s, nil
}

// checkJSONMerge rejects a literal true deep flag when the definition is
// read: Step Functions supports shallow merging only.
func checkJSONMerge(c *Call) error {
	if len(c.args) == 3 && c.args[2].kind == argLiteral && c.args[2].value == true {
		return errors.New(deepMergeMessage)
	}
	return nil
}

// evalJSONMerge merges shallowly: the second object's members replace the
// first's. A deep flag that is not the boolean true merges shallowly too,
// as AWS does.
func evalJSONMerge(_ *Call, args []any) (any, error) {
	a, ok1 := args[0].(map[string]any)
	b, ok2 := args[1].(map[string]any)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("the first two arguments must be JSON objects, got %s and %s", describe(args[0]), describe(args[1]))
	}
	if args[2] == true {
		return nil, errors.New(deepMergeMessage)
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out, nil
}

// --- arrays ---

func evalArray(_ *Call, args []any) (any, error) {
	out := make([]any, len(args))
	copy(out, args)
	return out, nil
}

func evalArrayPartition(_ *Call, args []any) (any, error) {
	a, err := arrayArg(args[0], "first")
	if err != nil {
		return nil, err
	}
	size, err := truncArg(args[1], "chunk size")
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("the chunk size must be a positive integer, got %d", size)
	}
	out := make([]any, 0, (len(a)+int(size)-1)/int(size))
	for i := 0; i < len(a); i += int(size) {
		end := min(i+int(size), len(a))
		chunk := make([]any, end-i)
		copy(chunk, a[i:end])
		out = append(out, chunk)
	}
	return out, nil
}

func evalArrayContains(_ *Call, args []any) (any, error) {
	a, err := arrayArg(args[0], "first")
	if err != nil {
		return nil, err
	}
	// AWS compares the values as States.Format renders them: true matches
	// "true" and 5 matches "5" (observed), while 1 and 1.0 differ.
	want := formatted(args[1])
	for _, v := range a {
		if formatted(v) == want {
			return true, nil
		}
	}
	return false, nil
}

func formatted(v any) string {
	var b strings.Builder
	writeFormatted(&b, v)
	return b.String()
}

func evalArrayRange(_ *Call, args []any) (any, error) {
	var n [3]int64
	for i, what := range []string{"start", "end", "step"} {
		v, err := truncArg(args[i], what)
		if err != nil {
			return nil, err
		}
		n[i] = v
	}
	start, end, step := n[0], n[1], n[2]
	if step == 0 {
		return nil, errors.New("the step must not be 0")
	}
	count := int64(0)
	if (step > 0 && start <= end) || (step < 0 && start >= end) {
		count = (end-start)/step + 1
	}
	if count > maxRangeItems {
		return nil, fmt.Errorf("the range would have %d items; an array can hold at most %d", count, maxRangeItems)
	}
	out := make([]any, count)
	for i := range out {
		out[i] = json.Number(strconv.FormatInt(start+int64(i)*step, 10))
	}
	return out, nil
}

func evalArrayGetItem(_ *Call, args []any) (any, error) {
	a, err := arrayArg(args[0], "first")
	if err != nil {
		return nil, err
	}
	idx, err := truncArg(args[1], "index")
	if err != nil {
		return nil, err
	}
	if len(a) == 0 {
		// AWS gives null for any index into an empty array.
		return nil, nil
	}
	if idx < 0 || idx >= int64(len(a)) {
		return nil, fmt.Errorf("the index %d is out of bounds for an array of %d item(s)", idx, len(a))
	}
	return a[idx], nil
}

func evalArrayLength(_ *Call, args []any) (any, error) {
	a, err := arrayArg(args[0], "")
	if err != nil {
		return nil, err
	}
	return json.Number(strconv.Itoa(len(a))), nil
}

// evalArrayUnique keeps the first occurrence of every value, in order.
func evalArrayUnique(_ *Call, args []any) (any, error) {
	a, err := arrayArg(args[0], "")
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(a))
	seen := make(map[string]bool, len(a))
	for _, v := range a {
		key := canonical(v)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, v)
	}
	return out, nil
}

// --- encoding and hashing ---

func evalBase64Encode(_ *Call, args []any) (any, error) {
	s, err := limitedString(args[0], maxEncodeChars)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// evalBase64Decode decodes leniently, as Step Functions does: characters
// outside the Base64 alphabets are skipped, decoding stops at padding, and
// missing padding is accepted (AWS decodes "abc" and "!!!invalid!!!").
func evalBase64Decode(_ *Call, args []any) (any, error) {
	s, err := limitedString(args[0], maxEncodeChars)
	if err != nil {
		return nil, err
	}
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '=' {
			break
		}
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '-':
			clean = append(clean, '+')
		case c == '_':
			clean = append(clean, '/')
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1] // a lone character holds no whole byte
	}
	b, err := base64.RawStdEncoding.DecodeString(string(clean))
	if err != nil {
		return nil, fmt.Errorf("the argument is not valid Base64: %v", err)
	}
	return string(b), nil
}

func evalHash(_ *Call, args []any) (any, error) {
	data, ok := args[0].(string)
	if !ok {
		// A non-string value is hashed as its JSON text.
		s, err := encode(args[0])
		if err != nil {
			return nil, err
		}
		data = s
	}
	if n := utf8.RuneCountInString(data); n > maxHashChars {
		return nil, fmt.Errorf("the data to hash has %d characters; at most %d are allowed", n, maxHashChars)
	}
	alg, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("the algorithm must be a string, got %s", describe(args[1]))
	}
	var h hash.Hash
	switch alg {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("the algorithm %q is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512", alg)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// --- math ---

func evalMathRandom(_ *Call, args []any) (any, error) {
	start, err := truncArg(args[0], "start")
	if err != nil {
		return nil, err
	}
	end, err := truncArg(args[1], "end")
	if err != nil {
		return nil, err
	}
	if start >= end {
		return nil, fmt.Errorf("the start (%d) must be less than the end (%d)", start, end)
	}
	span := end - start
	if span > math.MaxInt32 {
		return nil, fmt.Errorf("the range from %d to %d is too wide", start, end)
	}
	var n int64
	if len(args) == 3 {
		seed, err := truncArg(args[2], "seed")
		if err != nil {
			return nil, err
		}
		// The same seed gives the same number: a java.util.Random draw.
		n = int64(newJavaRandom(seed).nextInt(int32(span)))
	} else {
		n = randv2.Int64N(span)
	}
	return json.Number(strconv.FormatInt(start+n, 10)), nil
}

func evalMathAdd(_ *Call, args []any) (any, error) {
	a, err := roundArg(args[0], "first")
	if err != nil {
		return nil, err
	}
	b, err := roundArg(args[1], "second")
	if err != nil {
		return nil, err
	}
	for _, v := range []int64{a, b, a + b} {
		if v < mathAddMin || v > mathAddMax {
			return nil, fmt.Errorf("the value %d is outside the range %d to %d", v, int64(mathAddMin), int64(mathAddMax))
		}
	}
	return json.Number(strconv.FormatInt(a+b, 10)), nil
}

// --- strings and identifiers ---

// evalStringSplit splits at every character of the delimiter argument and
// drops empty parts.
func evalStringSplit(_ *Call, args []any) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("the first argument must be a string, got %s", describe(args[0]))
	}
	delims, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("the delimiter must be a string, got %s", describe(args[1]))
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func evalUUID(_ *Call, _ []any) (any, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("no randomness for a UUID: %v", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// --- argument helpers ---

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
	case map[string]any:
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
func canonical(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch v := v.(type) {
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(v) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			writeCanonical(b, v[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, x)
		}
		b.WriteByte(']')
	case json.Number:
		s := string(v)
		if strings.ContainsAny(s, ".eE") {
			f, _ := v.Float64()
			b.WriteString("f" + strconv.FormatFloat(f, 'g', -1, 64))
		} else if i, err := v.Int64(); err == nil {
			b.WriteString("i" + strconv.FormatInt(i, 10))
		} else {
			b.WriteString("i" + s)
		}
	case float64:
		b.WriteString("f" + strconv.FormatFloat(v, 'g', -1, 64))
	case int:
		b.WriteString("i" + strconv.Itoa(v))
	case int64:
		b.WriteString("i" + strconv.FormatInt(v, 10))
	default:
		b.WriteString(compact(v))
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// javaRandom is java.util.Random's generator, so that a seeded
// States.MathRandom draws what a JVM would.
type javaRandom struct{ seed int64 }

const (
	javaMultiplier = 0x5DEECE66D
	javaMask       = (1 << 48) - 1
)

func newJavaRandom(seed int64) *javaRandom {
	return &javaRandom{seed: (seed ^ javaMultiplier) & javaMask}
}

func (r *javaRandom) next(bits uint) int32 {
	r.seed = (r.seed*javaMultiplier + 0xB) & javaMask
	return int32(uint64(r.seed) >> (48 - bits))
}

func (r *javaRandom) nextInt(bound int32) int32 {
	if bound&(-bound) == bound {
		return int32((int64(bound) * int64(r.next(31))) >> 31)
	}
	for {
		bits := r.next(31)
		val := bits % bound
		if bits-val+(bound-1) >= 0 {
			return val
		}
	}
}
