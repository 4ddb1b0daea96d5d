package spec_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store/jsontag"
)

// A service and an environment as the deployment journal has held them
// since the first release of Velocity (every field, Go names as keys).
const (
	journaledService     = `{"Name":"api","Pos":{"Line":23,"Col":3},"From":"package","Run":"exec python3 out/app.py","Env":{"GREETING":"hello"},"Secrets":["TOKEN"],"Replicas":1,"Health":{"HTTP":"/","TCP":false,"Interval":200000000,"Timeout":1000000000,"Healthy":1,"Unhealthy":3,"StartPeriod":0,"FailAfter":10000000000},"Strategy":{"Type":"canary","MaxSurge":0,"MaxUnavailable":0,"KeepWarm":60000000000,"Steps":[{"Weight":10,"Pause":30000000000}],"Analysis":{"MaxErrorRateIncrease":0.01,"MaxLatencyRatio":1.5,"MinRequests":20,"OnInconclusive":"fail"}},"Drain":1000000000,"Deadline":20000000000,"Memory":1048576,"CPU":0.5}`
	journaledEnvironment = `{"Name":"production","Pos":{"Line":34,"Col":3},"Hosts":["api.example.localhost"],"URL":""}`
)

// The journaled form reads back whole and is written again byte for byte:
// no field was renamed away from its key.
func TestServiceJournalForm(t *testing.T) {
	for _, c := range []struct {
		doc string
		v   any
	}{{journaledService, &spec.Service{}}, {journaledEnvironment, &spec.Environment{}}} {
		dec := json.NewDecoder(strings.NewReader(c.doc))
		dec.DisallowUnknownFields()
		if err := dec.Decode(c.v); err != nil {
			t.Fatalf("decode %T: %v", c.v, err)
		}
		b, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.doc {
			t.Errorf("%T is journaled as\n%s\nwant\n%s", c.v, b, c.doc)
		}
	}
}

// Every field of what the deployment journal holds has an explicit key.
func TestServiceJSONTags(t *testing.T) {
	if m := jsontag.Missing(reflect.TypeFor[spec.Service](), reflect.TypeFor[spec.Environment]()); len(m) > 0 {
		t.Errorf("fields without a json tag (journaled with every deployment; tag them with their Go name): %v", m)
	}
}
