package integration

// The conversions between task parameters and results and the AWS SDK's
// structures, by reflection, that the package used while it called AWS
// through the SDK: TestSameAsSDK compares the client with them.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	types "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

var (
	sdkReaderType = reflect.TypeFor[io.Reader]()
	sdkTimeType   = reflect.TypeFor[time.Time]()
	sdkBytesType  = reflect.TypeFor[[]byte]()
	sdkAttrType   = reflect.TypeFor[types.AttributeValue]()
)

// sdkAttrMembers are the variants of DynamoDB's AttributeValue union by the
// key that names them in the JSON form ({"S": "x"}, {"N": "1"}, ...).
var sdkAttrMembers = map[string]reflect.Type{
	"B":    reflect.TypeFor[types.AttributeValueMemberB](),
	"BOOL": reflect.TypeFor[types.AttributeValueMemberBOOL](),
	"BS":   reflect.TypeFor[types.AttributeValueMemberBS](),
	"L":    reflect.TypeFor[types.AttributeValueMemberL](),
	"M":    reflect.TypeFor[types.AttributeValueMemberM](),
	"N":    reflect.TypeFor[types.AttributeValueMemberN](),
	"NS":   reflect.TypeFor[types.AttributeValueMemberNS](),
	"NULL": reflect.TypeFor[types.AttributeValueMemberNULL](),
	"S":    reflect.TypeFor[types.AttributeValueMemberS](),
	"SS":   reflect.TypeFor[types.AttributeValueMemberSS](),
}

// sdkFill sets the SDK input structure dst (a pointer) from the task's
// parameters, matching members to fields by name as Step Functions does
// (PascalCase names of the API).
func sdkFill(dst any, params *jsonvalue.Object) error {
	return sdkSet(reflect.ValueOf(dst).Elem(), params, "")
}

func sdkSet(dst reflect.Value, v any, path string) error {
	t := dst.Type()
	where := func() string {
		if path == "" {
			return "the parameters"
		}
		return path
	}
	if v == nil {
		dst.SetZero()
		return nil
	}
	switch {
	case t == sdkAttrType:
		av, err := sdkAttributeValue(v, path)
		if err != nil {
			return err
		}
		dst.Set(reflect.ValueOf(av))
		return nil
	case t == sdkReaderType:
		s, ok := v.(string)
		if !ok {
			b, err := jsonvalue.Marshal(v)
			if err != nil {
				return fmt.Errorf("%s: %w", where(), err)
			}
			s = string(b)
		}
		dst.Set(reflect.ValueOf(io.Reader(strings.NewReader(s))))
		return nil
	case t == sdkTimeType:
		switch x := v.(type) {
		case string:
			tm, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return fmt.Errorf("%s: %q is not an RFC 3339 timestamp", where(), x)
			}
			dst.Set(reflect.ValueOf(tm))
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				return fmt.Errorf("%s: %w", where(), err)
			}
			sec, frac := math.Modf(f)
			dst.Set(reflect.ValueOf(time.Unix(int64(sec), int64(frac*1e9)).UTC()))
		default:
			return fmt.Errorf("%s must be a timestamp, not %s", where(), kind(v))
		}
		return nil
	case t == sdkBytesType:
		// Blobs: text as its bytes, any other JSON value as its text.
		if s, ok := v.(string); ok {
			dst.SetBytes([]byte(s))
			return nil
		}
		b, err := jsonvalue.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", where(), err)
		}
		dst.SetBytes(b)
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := sdkSet(p.Elem(), v, path); err != nil {
			return err
		}
		dst.Set(p)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			// A JSON value where the API takes text (an SQS MessageBody,
			// an SNS Message) is sent as its JSON text, as Step Functions does.
			b, err := jsonvalue.Marshal(v)
			if err != nil {
				return fmt.Errorf("%s: %w", where(), err)
			}
			s = string(b)
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("%s must be a boolean, not %s", where(), kind(v))
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(numberText(v), 10, 64)
		if err != nil || dst.OverflowInt(n) {
			return fmt.Errorf("%s must be an integer, not %s", where(), kind(v))
		}
		dst.SetInt(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(numberText(v), 64)
		if err != nil {
			return fmt.Errorf("%s must be a number, not %s", where(), kind(v))
		}
		dst.SetFloat(f)
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s must be an array, not %s", where(), kind(v))
		}
		s := reflect.MakeSlice(t, len(arr), len(arr))
		for i, e := range arr {
			if err := sdkSet(s.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		dst.Set(s)
	case reflect.Map:
		obj, ok := v.(*jsonvalue.Object)
		if !ok || t.Key().Kind() != reflect.String {
			return fmt.Errorf("%s must be an object, not %s", where(), kind(v))
		}
		m := reflect.MakeMapWithSize(t, obj.Len())
		for k, e := range obj.All() {
			ev := reflect.New(t.Elem()).Elem()
			if err := sdkSet(ev, e, join(path, k)); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		dst.Set(m)
	case reflect.Struct:
		obj, ok := v.(*jsonvalue.Object)
		if !ok {
			return fmt.Errorf("%s must be an object, not %s", where(), kind(v))
		}
		for k, e := range obj.All() {
			f, ok := sdkField(t, k)
			if !ok {
				return fmt.Errorf("%s has no parameter %s (it has: %s)", where(), k, strings.Join(sdkFieldNames(t), ", "))
			}
			if err := sdkSet(dst.FieldByIndex(f.Index), e, join(path, k)); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: values of type %s are not supported", where(), t)
	}
	return nil
}

// sdkField finds a struct's exported field by name, exactly or else ignoring
// case (Step Functions capitalises camelCase API members).
func sdkField(t reflect.Type, name string) (reflect.StructField, bool) {
	if f, ok := t.FieldByName(name); ok && f.IsExported() && !sdkSkipped(f) {
		return f, true
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && !sdkSkipped(f) && strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func sdkFieldNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && !sdkSkipped(f) {
			out = append(out, f.Name)
		}
	}
	return out
}

// sdkSkipped are fields of the SDK's structures that are not API members.
func sdkSkipped(f reflect.StructField) bool { return f.Name == "ResultMetadata" }

// sdkAttributeValue converts DynamoDB's JSON form of an attribute value.
func sdkAttributeValue(v any, path string) (types.AttributeValue, error) {
	obj, ok := v.(*jsonvalue.Object)
	if !ok || obj.Len() != 1 {
		return nil, fmt.Errorf("%s must be a DynamoDB attribute sdkValue, an object of one of %s", path, strings.Join(slices.Sorted(maps.Keys(sdkAttrMembers)), ", "))
	}
	for k, e := range obj.All() {
		t, ok := sdkAttrMembers[k]
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a DynamoDB attribute type (%s)", path, k, strings.Join(slices.Sorted(maps.Keys(sdkAttrMembers)), ", "))
		}
		p := reflect.New(t)
		val := p.Elem().FieldByName("Value")
		var err error
		switch k {
		case "B":
			err = sdkSetBase64(val, e, join(path, k))
		case "BS":
			arr, ok := e.([]any)
			if !ok {
				return nil, fmt.Errorf("%s.BS must be an array", path)
			}
			bs := make([][]byte, len(arr))
			for i, x := range arr {
				if err := sdkSetBase64(reflect.ValueOf(&bs[i]).Elem(), x, join(path, k)); err != nil {
					return nil, err
				}
			}
			val.Set(reflect.ValueOf(bs))
		case "N":
			val.SetString(numberText(e))
		default:
			err = sdkSet(val, e, join(path, k))
		}
		if err != nil {
			return nil, err
		}
		return p.Interface().(types.AttributeValue), nil
	}
	return nil, nil
}

func sdkSetBase64(dst reflect.Value, v any, path string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%s must be base64 text", path)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dst.SetBytes(b)
	return nil
}

// sdkResult converts an SDK output structure to the JSON form Step
// Functions gives it: members by their API names, absent ones left out,
// blobs as base64, timestamps in RFC 3339, unions as {"Variant": value}.
func sdkResult(v any) (any, error) {
	out, _, err := sdkValue(reflect.ValueOf(v))
	return out, err
}

// sdkValue converts one value; ok is false for an absent one.
func sdkValue(v reflect.Value) (any, bool, error) {
	if !v.IsValid() {
		return nil, false, nil
	}
	t := v.Type()
	switch {
	case t == sdkTimeType:
		return v.Interface().(time.Time).UTC().Format(time.RFC3339Nano), true, nil
	case t == sdkBytesType:
		if v.IsNil() {
			return nil, false, nil
		}
		return base64.StdEncoding.EncodeToString(v.Bytes()), true, nil
	case t.Implements(reflect.TypeFor[io.ReadCloser]()) && t.Kind() == reflect.Interface:
		if v.IsNil() {
			return nil, false, nil
		}
		rc := v.Interface().(io.ReadCloser)
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxBody+1))
		if err != nil {
			return nil, false, fmt.Errorf("read body: %w", err)
		}
		if len(b) > maxBody {
			return nil, false, fmt.Errorf("the body is larger than %d bytes", maxBody)
		}
		return string(b), true, nil
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, false, nil
		}
		if t.Kind() == reflect.Interface {
			return sdkUnion(v.Elem())
		}
		return sdkValue(v.Elem())
	case reflect.String:
		if v.Len() == 0 && t.Name() != "string" {
			return nil, false, nil // an enum not set
		}
		return v.String(), true, nil
	case reflect.Bool:
		return v.Bool(), true, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(v.Int(), 10)), true, nil
	case reflect.Float32, reflect.Float64:
		return json.Number(strconv.FormatFloat(v.Float(), 'g', -1, 64)), true, nil
	case reflect.Slice:
		if v.IsNil() {
			return nil, false, nil
		}
		arr := make([]any, 0, v.Len())
		for i := range v.Len() {
			e, _, err := sdkValue(v.Index(i))
			if err != nil {
				return nil, false, err
			}
			arr = append(arr, e)
		}
		return arr, true, nil
	case reflect.Map:
		if v.IsNil() {
			return nil, false, nil
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		obj := jsonvalue.NewObject(len(keys))
		for _, k := range keys {
			e, _, err := sdkValue(v.MapIndex(reflect.ValueOf(k).Convert(t.Key())))
			if err != nil {
				return nil, false, err
			}
			obj.Set(k, e)
		}
		return obj, true, nil
	case reflect.Struct:
		obj := jsonvalue.NewObject(t.NumField())
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || sdkSkipped(f) {
				continue
			}
			e, ok, err := sdkValue(v.Field(i))
			if err != nil {
				return nil, false, err
			}
			if ok {
				obj.Set(f.Name, e)
			}
		}
		return obj, true, nil
	}
	return nil, false, nil
}

// sdkUnion renders a variant of an SDK union (a type named UnionMemberX with
// a Value field) as {"X": value}.
func sdkUnion(v reflect.Value) (any, bool, error) {
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	t := v.Type()
	_, variant, ok := strings.Cut(t.Name(), "Member")
	f := v.FieldByName("Value")
	if !ok || !f.IsValid() {
		return sdkValue(v)
	}
	if variant == "N" { // DynamoDB numbers stay text
		o := jsonvalue.NewObject(1)
		o.Set("N", f.String())
		return o, true, nil
	}
	e, ok, err := sdkValue(f)
	if err != nil || !ok {
		return nil, ok, err
	}
	o := jsonvalue.NewObject(1)
	o.Set(variant, e)
	return o, true, nil
}

// failureSDK is failure for the SDK's errors.
func (c call) failureSDK(err error) error {
	var f *asl.Failure
	if errors.As(err, &f) {
		return f
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		return asl.Failf(asl.ErrTaskFailed, "%s:%s: %v", c.svc.sdkName, c.action, err)
	}
	code := api.ErrorCode()
	if i := strings.LastIndexAny(code, ".#"); i >= 0 {
		code = code[i+1:] // AWS.SimpleQueueService.NonExistentQueue, ns#Code
	}
	if !strings.HasSuffix(code, "Exception") {
		code += "Exception"
	}
	cause := fmt.Sprintf("%s (Service: %s, Status Code: %d, Error Code: %s, Request ID: %s)",
		api.ErrorMessage(), c.svc.serviceID, sdkStatusOf(err), api.ErrorCode(), sdkRequestIDOf(err))
	name := c.svc.sdkName + "." + code
	if c.optimised {
		name = c.svc.optimisedName + "." + code
		if c.svc.optimisedError != "" {
			name = c.svc.optimisedName + "." + c.svc.optimisedError
		}
	}
	return &asl.Failure{Name: name, Cause: cause}
}
func sdkStatusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
func sdkRequestIDOf(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}
