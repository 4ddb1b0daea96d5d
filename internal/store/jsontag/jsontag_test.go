package jsontag_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store/jsontag"
)

type inner struct {
	Named   string `json:"named"`
	Bare    int
	Omitted string `json:",omitempty"`
	Ignored string `json:"-"`
	private string
}

type lifted struct {
	Deep string
}

type outer struct {
	lifted
	A   []inner           `json:"a"`
	M   map[string]*inner `json:"m"`
	T   time.Time         `json:"t"`
	Raw json.RawMessage   `json:"raw"`
}

func TestMissing(t *testing.T) {
	got := jsontag.Missing(reflect.TypeFor[outer]())
	want := []string{"jsontag_test.inner.Bare", "jsontag_test.inner.Omitted", "jsontag_test.lifted.Deep"}
	if !slices.Equal(got, want) {
		t.Errorf("Missing = %q, want %q", got, want)
	}
	_ = inner{}.private
}
