package store_test

import (
	"reflect"
	"testing"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/jsontag"
)

// Every field of the journal's records has an explicit JSON key, so that
// a record written as JSON (a deployment's files, a run's selection, or
// any record sent over the API) keeps its keys when a field is renamed.
func TestRecordsNameTheirJSONKeys(t *testing.T) {
	m := jsontag.Missing(
		reflect.TypeFor[store.Run](), reflect.TypeFor[store.Action](), reflect.TypeFor[store.Attempt](),
		reflect.TypeFor[store.KeyParts](), reflect.TypeFor[store.Output](), reflect.TypeFor[store.Result](),
		reflect.TypeFor[store.Approval](), reflect.TypeFor[store.DepCache](), reflect.TypeFor[store.Deployment](),
		reflect.TypeFor[store.Execution](), reflect.TypeFor[store.Event](), reflect.TypeFor[store.TaskToken](), reflect.TypeFor[store.Lease](),
		reflect.TypeFor[store.Token](), reflect.TypeFor[store.Delivery](), reflect.TypeFor[store.StateMachine](),
	)
	if len(m) > 0 {
		t.Errorf("fields without a json tag: %v", m)
	}
}
