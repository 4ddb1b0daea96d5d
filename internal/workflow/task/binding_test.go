package task

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

func TestParseBindings(t *testing.T) {
	dir := t.TempDir()
	b, err := ParseBindings("b.yml", []byte(`
score: { run: [python3, score.py], dir: tools, env: { LEVEL: "2" } }
arn:aws:states:::sqs:sendMessage: { run: "cat > sent.json" }
notify: { http: "http://localhost:1/notify" }
child: { definition: child.asl.json }
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := b["score"].command; !slices.Equal(c.Argv, []string{"python3", "score.py"}) || c.Dir != filepath.Join(dir, "tools") || c.Env["LEVEL"] != "2" {
		t.Errorf("score %+v", c)
	}
	if b["arn:aws:states:::sqs:sendMessage"].command.Script != "cat > sent.json" || b["notify"].HTTP == "" {
		t.Errorf("bindings %+v", b)
	}
	if b["child"].Definition != filepath.Join(dir, "child.asl.json") {
		t.Errorf("definition %s", b["child"].Definition)
	}
	for _, bad := range []string{
		`x: { run: a, http: "http://h" }`,
		`x: {}`,
		`x: { run: [1, 2] }`,
		`x: 3`,
	} {
		if _, err := ParseBindings("b.yml", []byte(bad), dir); err == nil || !strings.Contains(err.Error(), "b.yml") {
			t.Errorf("%s: err %v", bad, err)
		}
	}
}

func TestFunctionNames(t *testing.T) {
	got := functionNames("arn:aws:lambda:us-east-1:123456789012:function:score:live")
	want := []string{"arn:aws:lambda:us-east-1:123456789012:function:score:live", "arn:aws:lambda:us-east-1:123456789012:function:score", "score"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v", got)
	}
	if got := functionNames("score:live"); !slices.Equal(got, []string{"score:live", "score"}) {
		t.Errorf("got %v", got)
	}
}

func TestLambdaBoundToACommandAndToAURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost {
			http.Error(w, "bad request", 400)
			return
		}
		var body strings.Builder
		buf := make([]byte, 512)
		n, _ := r.Body.Read(buf)
		body.Write(buf[:n])
		if strings.Contains(body.String(), "fail") {
			w.WriteHeader(500)
			w.Write([]byte(`{"errorType":"Remote.Failed","errorMessage":"asked to fail"}`))
			return
		}
		w.Write([]byte(`{"echo":` + body.String() + `}`))
	}))
	defer srv.Close()
	b, err := ParseBindings("b.yml", []byte(`
score: { run: "printf '{\"score\": 7, \"in\": %s}' \"$(cat)\"" }
arn:aws:lambda:us-east-1:123456789012:function:remote: { http: "`+srv.URL+`" }
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &Resources{Bindings: b}
	out, err := invoke(t, r, "arn:aws:states:::lambda:invoke", mustJSON(t, `{"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:score:$LATEST", "Payload": {"a": 1}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := out.(*jsonvalue.Object)
	if asJSON(t, member(m, "Payload")) != `{"score":7,"in":{"a":1}}` || asJSON(t, member(m, "StatusCode")) != "200" {
		t.Errorf("lambda:invoke result %s", asJSON(t, out))
	}
	out, err = invoke(t, r, "arn:aws:lambda:us-east-1:123456789012:function:remote", mustJSON(t, `{"x": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if asJSON(t, out) != `{"echo":{"x":true}}` {
		t.Errorf("function ARN over HTTP: %s", asJSON(t, out))
	}
	_, err = invoke(t, r, "arn:aws:lambda:us-east-1:123456789012:function:remote", mustJSON(t, `{"fail": true}`))
	if f := failure(t, err); f.Name != "Remote.Failed" || !strings.Contains(f.Cause, "asked to fail") {
		t.Errorf("failure %+v", f)
	}
	_, err = invoke(t, r, "arn:aws:lambda:us-east-1:123456789012:function:unbound", map[string]any{})
	if f := failure(t, err); f.Name != "Lambda.ResourceNotFoundException" || !strings.Contains(f.Cause, "--bindings") {
		t.Errorf("unbound %+v", f)
	}
	_, err = invoke(t, r, "arn:aws:states:::sns:publish", map[string]any{})
	if f := failure(t, err); !strings.Contains(f.Cause, "no local resource for arn:aws:states:::sns:publish") {
		t.Errorf("unknown resource %+v", f)
	}
}

// A bindings file is bounded like a definition: an alias bomb or a deep
// nest is refused before it is expanded, naming the limit.
func TestBindingsAreBounded(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, prev := 0, "a"; i < 8; i++ {
		name := string(rune('b' + i))
		bomb += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	for name, src := range map[string]string{
		"alias bomb": bomb,
		"deep nest":  "x: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseBindings("bindings.yaml", []byte(src), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), "limit") {
				t.Fatalf("err = %v, want a limit named", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
