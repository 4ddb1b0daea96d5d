package executions

import (
	"reflect"
	"testing"

	"github.com/velocity-ci/velocity/internal/store/jsontag"
)

// Journaled execution options name every key: a restart, a redrive or an
// adopted child reads options an earlier velocity wrote.
func TestWorkflowOptionsJSONTags(t *testing.T) {
	if m := jsontag.Missing(reflect.TypeFor[options]()); len(m) > 0 {
		t.Errorf("fields without a json tag: %v", m)
	}
}
