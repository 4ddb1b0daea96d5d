package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// maxBody bounds a streamed body (S3 GetObject) kept in a task result.
const maxBody = 256 << 10

// attrTypes are the variants of DynamoDB's AttributeValue union by the
// key that names them in the JSON form ({"S": "x"}, {"N": "1"}, ...).
var attrTypes = []string{"B", "BOOL", "BS", "L", "M", "N", "NS", "NULL", "S", "SS"}

// fill converts the task's parameters to an operation's request,
// matching members by name as Step Functions does (PascalCase names of
// the API, or any case) and converting values to the members' kinds:
// strings, bools, json.Number for numbers, []byte for blobs, time.Time
// for timestamps, []any for lists, *jsonvalue.Object for maps and
// structures (members by their API names) and for DynamoDB attribute
// values (in DynamoDB's JSON form).
func fill(s *shape, params *jsonvalue.Object) (*jsonvalue.Object, error) {
	v, err := set(s, params, "")
	if err != nil {
		return nil, err
	}
	return v.(*jsonvalue.Object), nil
}

func set(s *shape, v any, path string) (any, error) {
	where := func() string {
		if path == "" {
			return "the parameters"
		}
		return path
	}
	if v == nil {
		return nil, nil
	}
	switch s.kind {
	case kAttr:
		return attributeValue(v, path)
	case kReader, kBlob:
		// Blobs: text as its bytes, any other JSON value as its text.
		if str, ok := v.(string); ok {
			return []byte(str), nil
		}
		b, err := jsonvalue.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where(), err)
		}
		return b, nil
	case kTime:
		switch x := v.(type) {
		case string:
			tm, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not an RFC 3339 timestamp", where(), x)
			}
			return tm, nil
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where(), err)
			}
			sec, frac := math.Modf(f)
			return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
		default:
			return nil, fmt.Errorf("%s must be a timestamp, not %s", where(), kind(v))
		}
	case kString, kEnum:
		str, ok := v.(string)
		if !ok {
			// A JSON value where the API takes text (an SQS MessageBody,
			// an SNS Message) is sent as its JSON text, as Step Functions does.
			b, err := jsonvalue.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where(), err)
			}
			str = string(b)
		}
		return str, nil
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%s must be a boolean, not %s", where(), kind(v))
		}
		return b, nil
	case kInt:
		n, err := strconv.ParseInt(numberText(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s must be an integer, not %s", where(), kind(v))
		}
		return json.Number(strconv.FormatInt(n, 10)), nil
	case kFloat:
		f, err := strconv.ParseFloat(numberText(v), 64)
		if err != nil {
			return nil, fmt.Errorf("%s must be a number, not %s", where(), kind(v))
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	case kList:
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s must be an array, not %s", where(), kind(v))
		}
		out := make([]any, len(arr))
		for i, e := range arr {
			x, err := set(s.elem, e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case kMap:
		obj, ok := v.(*jsonvalue.Object)
		if !ok {
			return nil, fmt.Errorf("%s must be an object, not %s", where(), kind(v))
		}
		out := jsonvalue.NewObject(obj.Len())
		for k, e := range obj.All() {
			x, err := set(s.elem, e, join(path, k))
			if err != nil {
				return nil, err
			}
			out.Set(k, x)
		}
		return out, nil
	case kStruct:
		obj, ok := v.(*jsonvalue.Object)
		if !ok {
			return nil, fmt.Errorf("%s must be an object, not %s", where(), kind(v))
		}
		out := jsonvalue.NewObject(obj.Len())
		for k, e := range obj.All() {
			m, ok := s.member(k)
			if !ok {
				return nil, fmt.Errorf("%s has no parameter %s (it has: %s)", where(), k, strings.Join(s.memberNames(), ", "))
			}
			x, err := set(m.shape, e, join(path, k))
			if err != nil {
				return nil, err
			}
			if x != nil && !(m.always && isZero(x)) {
				out.Set(m.name, x)
			} else {
				out.Delete(m.name)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: values of this kind are not supported", where())
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func numberText(v any) string {
	switch x := v.(type) {
	case json.Number:
		return string(x)
	case string:
		return x
	}
	return "?"
}

// attributeValue checks and converts DynamoDB's JSON form of an
// attribute value: numbers become text, binaries are base64.
func attributeValue(v any, path string) (any, error) {
	obj, ok := v.(*jsonvalue.Object)
	if !ok || obj.Len() != 1 {
		return nil, fmt.Errorf("%s must be a DynamoDB attribute value, an object of one of %s", path, strings.Join(attrTypes, ", "))
	}
	for k, e := range obj.All() {
		if !slices.Contains(attrTypes, k) {
			return nil, fmt.Errorf("%s: %s is not a DynamoDB attribute type (%s)", path, k, strings.Join(attrTypes, ", "))
		}
		var x any
		var err error
		switch k {
		case "B":
			x, err = base64Text(e, join(path, k))
		case "BS":
			arr, ok := e.([]any)
			if !ok {
				return nil, fmt.Errorf("%s.BS must be an array", path)
			}
			bs := make([]any, len(arr))
			for i, b := range arr {
				if bs[i], err = base64Text(b, join(path, k)); err != nil {
					return nil, err
				}
			}
			x = bs
		case "N":
			x = numberText(e)
		case "NS":
			x, err = set(&shape{kind: kList, elem: &shString}, numbersAsText(e), join(path, k))
		case "SS":
			x, err = set(&shape{kind: kList, elem: &shString}, e, join(path, k))
		case "S":
			x, err = set(&shString, e, join(path, k))
		case "BOOL", "NULL":
			x, err = set(&shBool, e, join(path, k))
		case "L":
			x, err = set(&shape{kind: kList, elem: &shAttr}, e, join(path, k))
		case "M":
			x, err = set(&shape{kind: kMap, elem: &shAttr}, e, join(path, k))
		}
		if err != nil {
			return nil, err
		}
		out := jsonvalue.NewObject(1)
		out.Set(k, x)
		return out, nil
	}
	return nil, nil
}

func numbersAsText(v any) any {
	arr, ok := v.([]any)
	if !ok {
		return v
	}
	out := make([]any, len(arr))
	for i, e := range arr {
		if n, ok := e.(json.Number); ok {
			e = string(n)
		}
		out[i] = e
	}
	return out
}

func base64Text(v any, path string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be base64 text", path)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// fromJSON converts a value of a JSON response to the form Step
// Functions gives results: members by their API names in the SDK's
// order, absent ones left out, maps by key, blobs as base64, timestamps
// in RFC 3339, DynamoDB's attribute values as DynamoDB writes them.
// Members the response has but the API does not are left out; a value
// of the wrong kind is an error.
func fromJSON(s *shape, v any) (any, bool, error) {
	if v == nil {
		return nil, false, nil
	}
	bad := func() (any, bool, error) {
		return nil, false, fmt.Errorf("the response has %s where the API has a %s", kind(v), kindName(s.kind))
	}
	switch s.kind {
	case kString, kEnum:
		str, ok := v.(string)
		if !ok {
			return bad()
		}
		if str == "" && s.kind == kEnum {
			return nil, false, nil
		}
		return str, true, nil
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		return b, true, nil
	case kInt, kFloat:
		n, ok := v.(json.Number)
		if !ok {
			return bad()
		}
		return number(s.kind, string(n))
	case kBlob:
		str, ok := v.(string)
		if !ok {
			return bad()
		}
		b, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			return nil, false, fmt.Errorf("a blob is not base64: %w", err)
		}
		return base64.StdEncoding.EncodeToString(b), true, nil
	case kTime:
		switch x := v.(type) {
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				return bad()
			}
			sec, frac := math.Modf(f)
			return formatTime(time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6)), true, nil
		case string:
			return timeText(x)
		}
		return bad()
	case kAttr:
		return sortedDeep(v), true, nil
	case kList:
		arr, ok := v.([]any)
		if !ok {
			return bad()
		}
		out := make([]any, 0, len(arr))
		for _, e := range arr {
			x, _, err := fromJSON(s.elem, e)
			if err != nil {
				return nil, false, err
			}
			out = append(out, x)
		}
		return out, true, nil
	case kMap:
		obj, ok := v.(*jsonvalue.Object)
		if !ok {
			return bad()
		}
		keys := obj.Keys()
		slices.Sort(keys)
		out := jsonvalue.NewObject(len(keys))
		for _, k := range keys {
			e, _ := obj.Get(k)
			x, _, err := fromJSON(s.elem, e)
			if err != nil {
				return nil, false, err
			}
			out.Set(k, x)
		}
		return out, true, nil
	case kStruct:
		obj, ok := v.(*jsonvalue.Object)
		if !ok {
			return bad()
		}
		out := jsonvalue.NewObject(len(s.members))
		for _, m := range s.members {
			e, _ := obj.Get(m.wireName())
			x, ok, err := fromJSON(m.shape, e)
			if err != nil {
				return nil, false, fmt.Errorf("%s: %w", m.name, err)
			}
			if !ok && m.always {
				x, ok = zero(m.shape), true
			}
			if ok {
				out.Set(m.name, x)
			}
		}
		return out, true, nil
	}
	return nil, false, nil
}

// isZero reports the zero value of a bool or number, which the SDK does
// not send for the members it keeps as values.
func isZero(v any) bool {
	switch x := v.(type) {
	case bool:
		return !x
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	}
	return false
}

// zero is the value a result has for a member the SDK keeps as a value
// when the response leaves it out.
func zero(s *shape) any {
	switch s.kind {
	case kBool:
		return false
	case kInt, kFloat:
		return json.Number("0")
	case kStruct:
		v, _, _ := fromJSON(s, jsonvalue.NewObject(0))
		return v
	}
	return nil
}

// number is a number of a response as the SDK's integer or float would
// print it.
func number(k shapeKind, text string) (any, bool, error) {
	if k == kInt {
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, false, fmt.Errorf("%q is not an integer", text)
		}
		return json.Number(strconv.FormatInt(n, 10)), true, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, false, fmt.Errorf("%q is not a number", text)
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true, nil
}

// timeText reads a timestamp written as text: ISO 8601 (XML bodies and
// some headers) or an HTTP date (Last-Modified).
func timeText(s string) (any, bool, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z", http1123, time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return formatTime(t), true, nil
		}
	}
	return nil, false, fmt.Errorf("%q is not a timestamp", s)
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// sortedDeep orders the members of every object in v by name.
func sortedDeep(v any) any {
	switch x := v.(type) {
	case *jsonvalue.Object:
		keys := x.Keys()
		slices.Sort(keys)
		out := jsonvalue.NewObject(len(keys))
		for _, k := range keys {
			e, _ := x.Get(k)
			out.Set(k, sortedDeep(e))
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = sortedDeep(e)
		}
		return out
	}
	return v
}

func kindName(k shapeKind) string {
	switch k {
	case kBool:
		return "boolean"
	case kInt, kFloat:
		return "number"
	case kList:
		return "list"
	case kMap, kStruct, kAttr:
		return "structure"
	case kTime:
		return "timestamp"
	}
	return "string"
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case *jsonvalue.Object:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}
