package task

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// decode parses JSON into the workflow packages' value form (objects in
// their order, numbers as json.Number); empty input is null.
func decode(data []byte) (any, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	return jsonvalue.Decode(data)
}

// encode writes a value as JSON, object members in order.
func encode(v any) ([]byte, error) { return jsonvalue.Marshal(v) }

// object is a task input that must be a JSON object, for resources whose
// parameters are named fields.
func object(resource string, input any) (*jsonvalue.Object, error) {
	m, ok := input.(*jsonvalue.Object)
	if !ok {
		return nil, asl.Failf(asl.ErrRuntime, "the input of resource %s must be a JSON object of its parameters, got %s", resource, kind(input))
	}
	return m, nil
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

// stringField returns m[key] when it is a string; a missing key is "" and
// any other type an error.
func stringField(resource string, m *jsonvalue.Object, key string, required bool) (string, error) {
	v, ok := m.Get(key)
	if !ok || v == nil {
		if required {
			return "", asl.Failf(asl.ErrRuntime, "resource %s needs the parameter %s", resource, key)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", asl.Failf(asl.ErrRuntime, "parameter %s of resource %s must be a string, got %s", key, resource, kind(v))
	}
	return s, nil
}

func jsonInt(n int) json.Number { return json.Number(fmt.Sprint(n)) }

// member is m's value of key, nil when m has none.
func member(m *jsonvalue.Object, key string) any {
	v, _ := m.Get(key)
	return v
}

// objectOf builds an object from keys and values in turn, in that order.
func objectOf(kv ...any) *jsonvalue.Object {
	o := jsonvalue.NewObject(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}
