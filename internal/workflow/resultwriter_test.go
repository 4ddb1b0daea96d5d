package workflow_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// distributedWriter is a Distributed Map of the kind AWS's samples run:
// results written by ResultWriter to S3 (here Bucket "results" is a
// directory below BaseDir), one tolerated failure among the items.
const distributedWriter = `{"StartAt": "Process", "States": {"Process": {
  "Type": "Map", "ItemsPath": "$.orders", "MaxConcurrency": 2, "ToleratedFailureCount": 1, "Label": "Orders",
  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
    "StartAt": "Check", "States": {
      "Check": {"Type": "Choice", "Choices": [{"Variable": "$.qty", "NumericGreaterThan": 0, "Next": "Price"}], "Default": "Reject"},
      "Reject": {"Type": "Fail", "Error": "Order.Empty", "Cause": "no quantity"},
      "Price": {"Type": "Pass", "Parameters": {"id.$": "$.id", "cents.$": "States.MathAdd($.qty, 100)"}, "End": true}}},
  "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "results", "Prefix.$": "$.prefix"}},
  "ResultPath": "$.written",
  "End": true}}}`

// The ResultWriter of a Distributed Map writes AWS's documented shapes:
// manifest.json listing SUCCEEDED_0.json and FAILED_0.json under
// Prefix/<Map Run ID>/, each entry a child execution with its input and
// output as JSON text; the Map's result is {"MapRunArn",
// "ResultWriterDetails": {"Bucket", "Key"}}, the key of the manifest.
// Source: AWS Step Functions developer guide, "ResultWriter (Map)"
// (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html).
func TestDistributedMapResultWriterWritesManifest(t *testing.T) {
	base := t.TempDir()
	in := &workflow.Interpreter{Journal: workflow.NewMemoryJournal(), BaseDir: base}
	res, err := in.Run(context.Background(), workflow.Execution{ID: "w", StateMachineName: "shop",
		StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:shop",
		Definition:      load(t, distributedWriter),
		Input:           decode(t, `{"prefix": "runs/daily", "orders": [{"id": "a", "qty": 2}, {"id": "b", "qty": 0}, {"id": "c", "qty": 5}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.StatusSucceeded {
		t.Fatalf("status %s: %s %s", res.Status, res.Error, res.Cause)
	}
	out := res.Output.(*jsonvalue.Object)
	written, _ := out.Get("written")
	var details struct {
		MapRunArn           string
		ResultWriterDetails struct{ Bucket, Key string }
	}
	if err := json.Unmarshal([]byte(mustMarshal(t, written)), &details); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(details.MapRunArn, "arn:aws:states:us-east-1:123456789012:mapRun:shop/Orders:") ||
		details.ResultWriterDetails.Bucket != "results" ||
		!strings.HasPrefix(details.ResultWriterDetails.Key, "runs/daily/") ||
		!strings.HasSuffix(details.ResultWriterDetails.Key, "/manifest.json") {
		t.Fatalf("Map result %s", mustMarshal(t, written))
	}
	runDir := filepath.Dir(filepath.Join(base, "results", details.ResultWriterDetails.Key))
	runID := filepath.Base(runDir)

	var m struct {
		DestinationBucket string
		MapRunArn         string
		ResultFiles       map[string][]struct {
			Key  string
			Size int
		}
	}
	readJSON(t, filepath.Join(base, "results", details.ResultWriterDetails.Key), &m)
	if m.DestinationBucket != "results" || m.MapRunArn != details.MapRunArn {
		t.Errorf("manifest %+v", m)
	}
	wantFiles := map[string]string{"SUCCEEDED": "runs/daily/" + runID + "/SUCCEEDED_0.json", "FAILED": "runs/daily/" + runID + "/FAILED_0.json"}
	for status, key := range wantFiles {
		files := m.ResultFiles[status]
		if len(files) != 1 || files[0].Key != key {
			t.Fatalf("manifest %s files %+v, want %s", status, files, key)
		}
		info, err := os.Stat(filepath.Join(base, "results", key))
		if err != nil || info.Size() != int64(files[0].Size) {
			t.Errorf("%s: size %v (%v), manifest says %d", key, info, err, files[0].Size)
		}
	}
	if p, ok := m.ResultFiles["PENDING"]; !ok || len(p) != 0 {
		t.Errorf("manifest PENDING %v, want []", p)
	}

	var succeeded, failed []map[string]any
	readJSON(t, filepath.Join(base, "results", wantFiles["SUCCEEDED"]), &succeeded)
	readJSON(t, filepath.Join(base, "results", wantFiles["FAILED"]), &failed)
	var outputs []string
	for _, e := range succeeded {
		if e["Status"] != "SUCCEEDED" || e["InputDetails"] == nil || e["ExecutionArn"] == nil || e["StateMachineArn"] == nil {
			t.Errorf("succeeded entry %v", e)
		}
		outputs = append(outputs, e["Output"].(string))
	}
	if want := []string{`{"cents":102,"id":"a"}`, `{"cents":105,"id":"c"}`}; !reflect.DeepEqual(outputs, want) {
		t.Errorf("outputs %q, want %q", outputs, want)
	}
	if len(failed) != 1 || failed[0]["Status"] != "FAILED" || failed[0]["Error"] != "Order.Empty" ||
		failed[0]["Cause"] != "no quantity" || failed[0]["Input"] != `{"id":"b","qty":0}` {
		t.Errorf("failed entries %v", failed)
	}
}

// A ResultWriter with a WriterConfig alone writes nothing and reshapes
// the results returned inline: FLATTEN joins the arrays the iterations
// return.
func TestResultWriterConfigOnlyFlattens(t *testing.T) {
	def := `{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$",
	  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
	    "StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"pair.$": "States.Array($, $)"}, "OutputPath": "$.pair", "End": true}}},
	  "ResultWriter": {"WriterConfig": {"OutputType": "JSON", "Transformation": "FLATTEN"}},
	  "End": true}}}`
	in := &workflow.Interpreter{Journal: workflow.NewMemoryJournal(), BaseDir: t.TempDir()}
	res, err := in.Run(context.Background(), workflow.Execution{ID: "f", StateMachineName: "m", Definition: load(t, def), Input: decode(t, `[1, 2]`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustMarshal(t, res.Output); got != `[1,1,2,2]` {
		t.Errorf("output %s (%s %s), want [1,1,2,2]", got, res.Error, res.Cause)
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := jsonvalue.Append(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v\n%s", file, err, data)
	}
}

// distributedWriterJSONata is distributedWriter written in JSONata: the
// ResultWriter takes Arguments, whose Prefix is an expression.
const distributedWriterJSONata = `{"QueryLanguage": "JSONata", "StartAt": "Process", "States": {"Process": {
  "Type": "Map", "Items": "{% $states.input.orders %}", "MaxConcurrency": 2, "ToleratedFailureCount": 1, "Label": "Orders",
  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
    "StartAt": "Check", "States": {
      "Check": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.qty > 0 %}", "Next": "Price"}], "Default": "Reject"},
      "Reject": {"Type": "Fail", "Error": "Order.Empty", "Cause": "no quantity"},
      "Price": {"Type": "Pass", "Output": {"cents": "{% $states.input.qty + 100 %}", "id": "{% $states.input.id %}"}, "End": true}}},
  "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Arguments": {"Bucket": "results", "Prefix": "{% $states.input.prefix %}"}},
  "Output": "{% $merge([$states.input, {'written': $states.result}]) %}",
  "End": true}}}`

// In a JSONata Map the ResultWriter's Arguments replace Parameters
// ("For JSONata states, Parameters will be replaced with Arguments",
// AWS Step Functions developer guide, "ResultWriter (Map)",
// https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html):
// the same Map written in either language writes the same manifest and
// result files, byte for byte, and returns the same result.
func TestResultWriterJSONataWritesAsJSONPath(t *testing.T) {
	input := `{"prefix": "runs/daily", "orders": [{"id": "a", "qty": 2}, {"id": "b", "qty": 0}, {"id": "c", "qty": 5}]}`
	run := func(def string) (base string, written string) {
		base = t.TempDir()
		// The entries record the time; both runs read the same one on a
		// fake clock that stands still while nothing sleeps.
		synctest.Test(t, func(t *testing.T) {
			in := &workflow.Interpreter{Journal: workflow.NewMemoryJournal(), BaseDir: base,
				Clock: workflow.NewFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))}
			res, err := in.Run(context.Background(), workflow.Execution{ID: "w", StateMachineName: "shop",
				StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:shop",
				Definition:      load(t, def), Input: decode(t, input)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != workflow.StatusSucceeded {
				t.Fatalf("status %s: %s %s", res.Status, res.Error, res.Cause)
			}
			w, _ := res.Output.(*jsonvalue.Object).Get("written")
			written = mustMarshal(t, w)
		})
		return base, written
	}
	pathBase, pathWritten := run(distributedWriter)
	nataBase, nataWritten := run(distributedWriterJSONata)
	if nataWritten != pathWritten {
		t.Errorf("JSONata Map result %s, JSONPath %s", nataWritten, pathWritten)
	}
	want := filesBelow(t, filepath.Join(pathBase, "results"))
	got := filesBelow(t, filepath.Join(nataBase, "results"))
	if len(want) != 3 {
		t.Fatalf("JSONPath Map wrote %d files, want manifest.json, SUCCEEDED_0.json and FAILED_0.json", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSONata Map wrote\n%v\nJSONPath Map wrote\n%v", got, want)
	}
}

// A JSONata ResultWriter's Arguments that fail to evaluate fail the Map
// with States.QueryEvaluationError naming the field, after the
// iterations ran, and write nothing.
func TestResultWriterJSONataArgumentsUndefined(t *testing.T) {
	base := t.TempDir()
	in := &workflow.Interpreter{Journal: workflow.NewMemoryJournal(), BaseDir: base}
	res, err := in.Run(context.Background(), workflow.Execution{ID: "u", StateMachineName: "shop",
		Definition: load(t, distributedWriterJSONata), Input: decode(t, `{"orders": [{"id": "a", "qty": 1}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.StatusFailed || res.Error != "States.QueryEvaluationError" ||
		!strings.Contains(res.Cause, "specified for the field 'ResultWriter/Arguments/Prefix' returned nothing (undefined)") {
		t.Errorf("status %s, error %s: %s", res.Status, res.Error, res.Cause)
	}
	if files := filesBelow(t, base); len(files) != 0 {
		t.Errorf("wrote %v", files)
	}
}

// filesBelow reads every file below dir, by slash-separated path.
func filesBelow(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}
