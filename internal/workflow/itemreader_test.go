package workflow_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// TestItemReaderManifestReadsGzippedInventory: S3 writes an inventory's
// data files gzip-compressed (….csv.gz); an ItemReader with InputType
// MANIFEST reads them as S3 hands them over.
func TestItemReaderManifestReadsGzippedInventory(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		t.Helper()
		p := filepath.Join(dir, "inv", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("\"src\",\"a.txt\"\n\"src\",\"b/c.txt\"\n"))
	zw.Close()
	write("data/part-0.csv.gz", gz.Bytes())
	write("manifest.json", []byte(`{"sourceBucket": "src", "fileFormat": "CSV", "fileSchema": "Bucket, Key",
	  "files": [{"key": "data/part-0.csv.gz", "size": 1, "MD5checksum": "x"}]}`))

	sm := load(t, `{"StartAt": "M", "States": {"M": {"Type": "Map",
	  "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "MANIFEST"},
	    "Parameters": {"Bucket": "inv", "Key": "manifest.json"}},
	  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
	    "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
	  "End": true}}}`)
	in := &workflow.Interpreter{Journal: workflow.NewMemoryJournal(), BaseDir: dir}
	res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm, Input: decode(t, `{}`)})
	if err != nil || res.Status != workflow.StatusSucceeded {
		t.Fatalf("%v %+v", err, res)
	}
	got, _ := jsonvalue.Marshal(res.Output)
	if want := `[{"Bucket":"src","Key":"a.txt"},{"Bucket":"src","Key":"b/c.txt"}]`; string(got) != want {
		t.Errorf("items = %s, want %s", got, want)
	}
}
