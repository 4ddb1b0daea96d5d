package task

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// decode parses JSON into the workflow packages' value form (numbers as
// json.Number); empty input is null.
func decode(data []byte) (any, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// encode writes a value as JSON.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// object is a task input that must be a JSON object, for resources whose
// parameters are named fields.
func object(resource string, input any) (map[string]any, error) {
	m, ok := input.(map[string]any)
	if !ok {
		return nil, asl.Failf(asl.ErrRuntime, "the input of resource %s must be a JSON object of its parameters, got %s", resource, kind(input))
	}
	return m, nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
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
func stringField(resource string, m map[string]any, key string, required bool) (string, error) {
	v, ok := m[key]
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
