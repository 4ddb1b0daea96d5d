package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// resultWriter is a Distributed Map's ResultWriter: where the child
// results go (an S3 Bucket and Prefix, here a directory below BaseDir as
// for ItemReader) and how they are shaped (WriterConfig).
type resultWriter struct {
	// parameters (JSONPath) or arguments (JSONata, evaluated with the
	// state's $states.input and variables) give Bucket and Prefix; both
	// are nil when the ResultWriter has only a WriterConfig, which
	// reshapes the results returned inline.
	parameters     *payload.Template
	arguments      *jtemplate
	outputType     string // JSON (default) or JSONL
	transformation string // NONE (default with a destination), COMPACT or FLATTEN
}

type resultWriterDef struct {
	Parameters   json.RawMessage `json:"Parameters"`
	Arguments    json.RawMessage `json:"Arguments"`
	WriterConfig *struct {
		OutputType     string `json:"OutputType"`
		Transformation string `json:"Transformation"`
	} `json:"WriterConfig"`
}

func compileResultWriter(raw json.RawMessage) (*resultWriter, error) {
	var d resultWriterDef
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	w := &resultWriter{outputType: "JSON"}
	switch {
	case len(d.Parameters) > 0:
		t, err := payload.Compile(d.Parameters)
		if err != nil {
			return nil, fmt.Errorf("Parameters: %w", err)
		}
		w.parameters = t
		w.transformation = "NONE"
	case len(d.Arguments) > 0:
		t, err := compileJTemplate(d.Arguments)
		if err != nil {
			return nil, fmt.Errorf("Arguments: %w", err)
		}
		w.arguments = t
		w.transformation = "NONE"
	default:
		// Without a destination AWS returns the outputs inline, as a Map
		// without ResultWriter does.
		w.transformation = "COMPACT"
	}
	if c := d.WriterConfig; c != nil {
		if c.OutputType != "" {
			w.outputType = c.OutputType
		}
		if c.Transformation != "" {
			w.transformation = c.Transformation
		}
	}
	return w, nil
}

// childResult is one iteration of the Map as a child execution of its Map
// Run, in the shape of the entries of AWS's SUCCEEDED_n.json and
// FAILED_n.json result files (DescribeExecution's fields).
type childResult struct {
	ExecutionArn        string        `json:"ExecutionArn"`
	Input               string        `json:"Input"`
	InputDetails        includedFlag  `json:"InputDetails"`
	Name                string        `json:"Name"`
	Output              *string       `json:"Output,omitempty"`
	OutputDetails       *includedFlag `json:"OutputDetails,omitempty"`
	Error               *string       `json:"Error,omitempty"`
	Cause               *string       `json:"Cause,omitempty"`
	RedriveCount        int           `json:"RedriveCount"`
	RedriveStatus       string        `json:"RedriveStatus"`
	RedriveStatusReason string        `json:"RedriveStatusReason,omitempty"`
	StartDate           string        `json:"StartDate"`
	StateMachineArn     string        `json:"StateMachineArn"`
	Status              string        `json:"Status"`
	StopDate            string        `json:"StopDate"`
}

type includedFlag struct {
	Included bool `json:"Included"`
}

// manifest is AWS's manifest.json of a Map Run's results.
type manifest struct {
	DestinationBucket string `json:"DestinationBucket"`
	MapRunArn         string `json:"MapRunArn"`
	ResultFiles       struct {
		FAILED    []resultFile `json:"FAILED"`
		PENDING   []resultFile `json:"PENDING"`
		SUCCEEDED []resultFile `json:"SUCCEEDED"`
	} `json:"ResultFiles"`
}

type resultFile struct {
	Key  string `json:"Key"`
	Size int    `json:"Size"`
}

// mapRunID names a Map Run the same way each time the same visit of the
// same state runs (a resumed execution rewrites the same files instead of
// leaving a second set), in the form of AWS's Map Run IDs (a UUID).
func (s *scope) mapRunID(v *visit, attempt int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%d\x00%d", s.run.arn, s.name, v.st.name, v.number, attempt))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// writeResults applies the Map's ResultWriter to its iterations' results
// (failed[i] set for a tolerated failure, whose result is its error
// output): with a destination, it writes manifest.json and the result
// files below BaseDir/Bucket/Prefix/<Map Run ID>/ and returns what AWS's
// Map returns then, {"MapRunArn", "ResultWriterDetails": {"Bucket",
// "Key"}}; with only a WriterConfig, it returns the reshaped results.
func (s *scope) writeResults(v *visit, attempt int, in, ctxObj any, inputs, results []any, failed []bool) (any, error) {
	w := v.st.resultWriter
	x := s.run
	fail := func(format string, args ...any) error {
		return asl.Failf(asl.ErrResultWriterFailed, "An error occurred while executing the state '%s' (entered at the event id #%d). %s",
			v.st.name, s.enteredID(v), fmt.Sprintf(format, args...))
	}
	runID := s.mapRunID(v, attempt)
	label := v.st.def.Label
	if label == "" {
		label = v.st.name
	}
	mapRunArn := strings.Replace(x.smARN, ":stateMachine:", ":mapRun:", 1) + "/" + label + ":" + runID
	now := formatTime(x.clock.Now())
	var ok, bad []any
	for i, r := range results {
		entry, err := s.shapeResult(w.transformation, mapRunArn, label, runID, i, inputs[i], r, failed[i], now)
		if err != nil {
			return nil, fail("%v", err)
		}
		if failed[i] {
			bad = append(bad, entry...)
		} else {
			ok = append(ok, entry...)
		}
	}
	var params any
	var err error
	field := "Parameters"
	switch {
	case w.arguments != nil:
		field = "Arguments"
		if params, err = s.jeval(v, "ResultWriter/Arguments", w.arguments, ctxObj, jstates{input: v.input}); err != nil {
			return nil, err
		}
	case w.parameters != nil:
		if params, err = w.parameters.Eval(in, ctxObj); err != nil {
			return nil, s.stateFailure(v, err)
		}
	default:
		return append(ok, bad...), nil
	}
	obj, _ := params.(*jsonvalue.Object)
	str := func(k string) string {
		if obj == nil {
			return ""
		}
		val, _ := obj.Get(k)
		s, _ := val.(string)
		return s
	}
	bucket, prefix := str("Bucket"), strings.Trim(str("Prefix"), "/")
	if bucket == "" {
		return nil, fail("The ResultWriter %s have no Bucket", field)
	}
	dir, err := x.localPath(bucket)
	if err != nil {
		return nil, fail("%v", err)
	}
	base := path.Join(prefix, runID)
	ext := ".json"
	if w.outputType == "JSONL" {
		ext = ".jsonl"
	}
	var m manifest
	m.DestinationBucket, m.MapRunArn = bucket, mapRunArn
	m.ResultFiles.FAILED, m.ResultFiles.PENDING, m.ResultFiles.SUCCEEDED = []resultFile{}, []resultFile{}, []resultFile{}
	for _, set := range []struct {
		status  string
		entries []any
		files   *[]resultFile
	}{{"SUCCEEDED", ok, &m.ResultFiles.SUCCEEDED}, {"FAILED", bad, &m.ResultFiles.FAILED}} {
		if len(set.entries) == 0 {
			continue
		}
		data, err := encodeResults(set.entries, w.outputType)
		if err != nil {
			return nil, fail("%v", err)
		}
		key := path.Join(base, set.status+"_0"+ext)
		if err := writeLocal(dir, key, data); err != nil {
			return nil, fail("%v", err)
		}
		*set.files = append(*set.files, resultFile{Key: key, Size: len(data)})
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fail("%v", err)
	}
	key := path.Join(base, "manifest.json")
	if err := writeLocal(dir, key, data); err != nil {
		return nil, fail("%v", err)
	}
	return object("MapRunArn", mapRunArn, "ResultWriterDetails", object("Bucket", bucket, "Key", key)), nil
}

// shapeResult turns one iteration's result into the entries a result file
// (or the inline result) holds under transformation: NONE gives the child
// execution's metadata with its input and output as JSON text, COMPACT
// its output (or error output) alone, FLATTEN the elements of an output
// that is an array, one entry each.
func (s *scope) shapeResult(transformation, mapRunArn, label, runID string, i int, input, result any, failed bool, now string) ([]any, error) {
	switch transformation {
	case "COMPACT":
		return []any{result}, nil
	case "FLATTEN":
		if arr, ok := result.([]any); ok && !failed {
			return arr, nil
		}
		return []any{result}, nil
	}
	x := s.run
	name := fmt.Sprintf("%s_%d", runID[:8], i)
	e := childResult{
		ExecutionArn:    strings.Replace(x.smARN, ":stateMachine:", ":execution:", 1) + "/" + label + ":" + name,
		Input:           jsonString(input),
		InputDetails:    includedFlag{Included: true},
		Name:            name,
		RedriveStatus:   "NOT_REDRIVABLE",
		StartDate:       now,
		StateMachineArn: x.smARN + "/" + label,
		Status:          "SUCCEEDED",
		StopDate:        now,
	}
	if failed {
		o, _ := result.(*jsonvalue.Object)
		errName, _ := o.Get("Error")
		cause, _ := o.Get("Cause")
		en, _ := errName.(string)
		c, _ := cause.(string)
		e.Status, e.Error, e.Cause = "FAILED", &en, &c
		e.RedriveStatus = "REDRIVABLE"
	} else {
		out := jsonString(result)
		e.Output, e.OutputDetails = &out, &includedFlag{Included: true}
		e.RedriveStatusReason = "Execution is SUCCEEDED and cannot be redriven"
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	v, err := payload.Decode(b)
	if err != nil {
		return nil, err
	}
	return []any{v}, nil
}

// encodeResults writes a result file: a JSON array, or (JSONL) one JSON
// value a line.
func encodeResults(entries []any, outputType string) ([]byte, error) {
	if outputType == "JSONL" {
		var b []byte
		for _, e := range entries {
			b = append(b, jsonString(e)...)
			b = append(b, '\n')
		}
		return b, nil
	}
	return []byte(jsonString(entries)), nil
}

// writeLocal writes data to key below dir, through a temporary file
// renamed into place, so that a reader never sees half a file and a
// resumed execution rewriting it leaves one whole copy.
func writeLocal(dir, key string, data []byte) error {
	file, err := safeJoin(dir, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}
