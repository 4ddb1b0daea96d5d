package secret

import (
	"reflect"
	"testing"

	"github.com/velocity-ci/velocity/internal/store/jsontag"
)

// secrets.json names every key: a later velocity opens the secrets an
// earlier one sealed.
func TestFileJSONTags(t *testing.T) {
	if m := jsontag.Missing(reflect.TypeFor[file]()); len(m) > 0 {
		t.Errorf("fields without a json tag: %v", m)
	}
}
