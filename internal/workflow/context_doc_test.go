package workflow_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// echoInvoker is a task resource whose result is its input.
type echoInvoker struct{}

func (echoInvoker) Invoke(_ context.Context, req workflow.TaskRequest) (any, error) {
	return req.Input, nil
}

// TestDocListsEveryContextField keeps the context object table of
// docs/workflows.md ("### Context object" under "## Field by field")
// true to the interpreter: a task of a Map iteration, with a task token,
// sees every field there is, and each has a row; no row names a field
// the interpreter does not set.
func TestDocListsEveryContextField(t *testing.T) {
	sm := load(t, `{"StartAt": "Each", "States": {"Each": {
	  "Type": "Map", "ItemSelector": {"map.$": "$$.Map"},
	  "ItemProcessor": {"StartAt": "Look", "States": {"Look": {
	    "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
	    "Parameters": {"context.$": "$$", "map.$": "$.map"}, "End": true}}},
	  "End": true}}}`)
	in := &workflow.Interpreter{Journal: workflow.NewMemoryJournal(), Invoker: echoInvoker{}}
	res, err := in.Run(context.Background(), workflow.Execution{ID: "1", Name: "look", StateMachineName: "doc",
		Definition: sm, Input: decode(t, `[1]`)})
	if err != nil || res.Status != "SUCCEEDED" {
		t.Fatalf("%v %+v", err, res)
	}
	seen := res.Output.([]any)[0].(*jsonvalue.Object)
	ctxObj, _ := seen.Get("context")
	mapObj, _ := seen.Get("map")
	var fields []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		o, ok := v.(*jsonvalue.Object)
		if !ok {
			fields = append(fields, path)
			return
		}
		for _, m := range o.Members() {
			walk(path+"."+m.Key, m.Value)
		}
	}
	walk("$$", ctxObj)
	walk("$$.Map", mapObj)

	b, err := os.ReadFile("../../docs/workflows.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Field by field\n")
	if !ok {
		t.Fatal(`docs/workflows.md has no "## Field by field" section`)
	}
	_, table, ok := strings.Cut(section, "\n### Context object\n")
	if !ok {
		t.Fatal(`docs/workflows.md has no "### Context object" table under Field by field`)
	}
	if end := strings.Index(table, "\n#"); end >= 0 {
		table = table[:end]
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(\\$\\$[A-Za-z.]+)` \\|").FindAllStringSubmatch(table, -1) {
		documented = append(documented, m[1])
	}
	for _, f := range fields {
		if !slices.Contains(documented, f) {
			t.Errorf("docs/workflows.md, ### Context object: no row for %s", f)
		}
	}
	for _, f := range documented {
		if !slices.Contains(fields, f) {
			t.Errorf("docs/workflows.md, ### Context object: the row %s names a field the interpreter does not set", f)
		}
	}
}
