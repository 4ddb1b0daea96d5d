package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestValueRedactsItself(t *testing.T) {
	v := Value("hunter2")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%c", "%10s"} {
		if got := fmt.Sprintf(verb, v); strings.Contains(got, "hunter2") || !strings.Contains(got, "[REDACTED]") {
			t.Errorf("Sprintf(%q) = %q", verb, got)
		}
	}
	type config struct {
		User     string
		Password Value
	}
	c := config{"bob", v}
	if got := fmt.Sprintf("%+v %#v", c, c); strings.Contains(got, "hunter2") || strings.Contains(got, "104") {
		t.Errorf("struct printed as %q", got)
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(js) != `{"User":"bob","Password":"[REDACTED]"}` {
		t.Errorf("json = %s", js)
	}

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(h).Info("login", "password", v, "config", c, slog.Any("raw", v))
	}
	if out := buf.String(); strings.Contains(out, "hunter2") || strings.Contains(out, "aHVudGVyMg") || strings.Count(out, "[REDACTED]") < 6 {
		t.Errorf("slog output:\n%s", out)
	}
}
