package explain_test

import (
	"reflect"
	"testing"

	"github.com/velocity-ci/velocity/internal/explain"
	"github.com/velocity-ci/velocity/internal/store/jsontag"
)

// The key record journaled with every attempt names every JSON key: a
// later velocity explains misses against records an earlier one wrote.
func TestPartsJSONTags(t *testing.T) {
	if m := jsontag.Missing(reflect.TypeFor[explain.Parts]()); len(m) > 0 {
		t.Errorf("fields without a json tag: %v", m)
	}
}
