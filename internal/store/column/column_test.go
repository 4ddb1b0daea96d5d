package column_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/column"
)

func TestSelectionRoundTrip(t *testing.T) {
	if got := column.EncodeSelection(store.Selection{}); got != "" {
		t.Errorf("a whole run's selection is %q, want empty", got)
	}
	sel := store.Selection{Only: []string{"build/*"}, Skip: []string{"lint"}}
	text := column.EncodeSelection(sel)
	if !strings.Contains(text, `"version":1`) {
		t.Errorf("selection column %s has no format version", text)
	}
	got, err := column.DecodeSelection(text)
	if err != nil || !reflect.DeepEqual(got, sel) {
		t.Errorf("decoded %+v, %v; want %+v", got, err, sel)
	}
	if _, err := column.DecodeSelection(`{"version":2,"only":["x"]}`); err == nil || !strings.Contains(err.Error(), "upgrade velocity") {
		t.Errorf("a newer format: %v", err)
	}
}

func TestFilesFormats(t *testing.T) {
	files := []store.Output{{Stage: "build", Action: "package", Path: "dist/app", Mode: 0o755, Size: 4, Digest: "sha256:ab"}}
	text, err := column.EncodeFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{text, `[{"Stage":"build","Action":"package","Path":"dist/app","Mode":493,"Size":4,"Digest":"sha256:ab"}]`} {
		got, err := column.DecodeFiles(in)
		if err != nil || !reflect.DeepEqual(got, files) {
			t.Errorf("decode %s: %+v, %v", in, got, err)
		}
	}
	if _, err := column.DecodeFiles(`{"version":9,"files":[]}`); err == nil || !strings.Contains(err.Error(), "upgrade velocity") {
		t.Errorf("a newer format: %v", err)
	}
}
