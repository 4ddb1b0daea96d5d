package executions

import "testing"

func TestStatePosition(t *testing.T) {
	json := []byte("{\"StartAt\": \"Again\",\n  \"States\": {\n    \"Again\": {\"Type\": \"Task\"}}}")
	yaml := []byte("StartAt: Again\nStates:\n  Again:\n    Type: Task\n")
	for _, c := range []struct {
		src  []byte
		want string
	}{{json, "f:3:5"}, {yaml, "f:3:3"}, {[]byte("{}"), "f"}} {
		if got := statePosition("f", c.src, "Again"); got != c.want {
			t.Errorf("%q: %s, want %s", c.src, got, c.want)
		}
	}
}
