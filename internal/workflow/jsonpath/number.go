package jsonpath

import (
	"encoding/json"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// CanonicalNumber writes n the way Step Functions' JSON reader and writer
// (Java's Jackson) do; see jsonvalue.CanonicalNumber.
func CanonicalNumber(n json.Number) json.Number { return jsonvalue.CanonicalNumber(n) }

// CanonicalNumbers rewrites, in place, every number inside v with
// CanonicalNumber and returns v; see jsonvalue.CanonicalNumbers.
func CanonicalNumbers(v any) any { return jsonvalue.CanonicalNumbers(v) }
