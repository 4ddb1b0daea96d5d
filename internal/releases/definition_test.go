package releases

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store/jsontag"
)

// A definition as the deployment journal held it before it had a format
// version (e2e/testdata/golden-journal, deployment 4).
const definitionFormat0 = `{"service":{"Name":"api","Pos":{"Line":23,"Col":3},"From":"package","Run":"exec python3 out/app.py","Env":{"GREETING":"hello"},"Secrets":null,"Replicas":1,"Health":{"HTTP":"/","TCP":false,"Interval":200000000,"Timeout":1000000000,"Healthy":1,"Unhealthy":3,"StartPeriod":0,"FailAfter":10000000000},"Strategy":{"Type":"blue-green","MaxSurge":0,"MaxUnavailable":0,"KeepWarm":60000000000,"Steps":null,"Analysis":{"MaxErrorRateIncrease":0,"MaxLatencyRatio":0,"MinRequests":0,"OnInconclusive":""}},"Drain":1000000000,"Deadline":20000000000,"Memory":0,"CPU":0},"environment":{"Name":"production","Pos":{"Line":34,"Col":3},"Hosts":["api.example.localhost"],"URL":""},"project":"golden","port_range":{"low":42100,"high":42199,"source":"--port-range"}}`

func TestDefinitionFormats(t *testing.T) {
	def, err := decodeDefinition([]byte(definitionFormat0))
	if err != nil {
		t.Fatalf("format 0: %v", err)
	}
	if def.Service.Name != "api" || def.Service.Run != "exec python3 out/app.py" || def.Service.Env["GREETING"] != "hello" ||
		def.Service.Health.Interval != 200*time.Millisecond || def.Service.Strategy.Type != "blue-green" ||
		def.Service.Strategy.KeepWarm != time.Minute || def.Service.Deadline != 20*time.Second ||
		def.Environment.Name != "production" || len(def.Environment.Hosts) != 1 ||
		def.Project != "golden" || def.PortRange == nil || def.PortRange.Low != 42100 {
		t.Errorf("format 0 reads as %+v", def)
	}

	b, err := encodeDefinition(def)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"version":1,` + definitionFormat0[1:]; string(b) != want {
		t.Errorf("journaled as\n%s\nwant\n%s", b, want)
	}
	again, err := decodeDefinition(b)
	if err != nil || !reflect.DeepEqual(again, def) {
		t.Errorf("format 1 reads back as %+v, %v", again, err)
	}

	if _, err := decodeDefinition([]byte(`{"version":2,"service":{}}`)); err == nil || !strings.Contains(err.Error(), "upgrade velocity") {
		t.Errorf("a newer format reads with error %v", err)
	}
}

// Every field of a journaled definition has an explicit JSON key.
func TestDefinitionJSONTags(t *testing.T) {
	if m := jsontag.Missing(reflect.TypeFor[journaledDefinition]()); len(m) > 0 {
		t.Errorf("fields without a json tag: %v", m)
	}
}
