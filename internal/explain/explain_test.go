package explain_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/explain"
)

// base is a key's parts that each case changes one thing of.
func base() explain.Side {
	p := explain.Parts{
		Format: explain.Format, Velocity: "v1", Definition: "def", Outputs: []string{"dist/app"},
		Host:        map[string]string{"GOFLAGS": "h1"},
		Env:         map[string]string{"MODE": "fast"},
		Secrets:     map[string]string{"TOKEN": "s1"},
		Sidecars:    map[string]string{"db": "d1"},
		Inputs:      explain.Inputs{Patterns: []string{"**/*.go"}, Digest: "t1", Count: 2},
		Upstream:    map[string]string{"build/compile": "o1"},
		UpstreamSet: "u1",
	}
	p.SetScript("go test ./...\ngo vet ./...\n")
	return explain.Side{
		Parts:   p,
		Files:   map[string]string{"main.go": "aa", "util.go": "bb"},
		Outputs: map[string]map[string]string{"build/compile": {"dist/app": "x", "dist/lib": "y"}},
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *explain.Side)
		want   []explain.Change
	}{
		{"unchanged", func(s *explain.Side) {}, nil},
		{"input files", func(s *explain.Side) {
			s.Parts.Inputs.Digest = "t2"
			s.Files = map[string]string{"main.go": "a2", "new.go": "cc"}
		}, []explain.Change{
			{What: "input", Name: "main.go", How: "changed"},
			{What: "input", Name: "new.go", How: "added"},
			{What: "input", Name: "util.go", How: "removed"},
		}},
		{"control characters in a file name are quoted", func(s *explain.Side) {
			s.Parts.Inputs.Digest = "t2"
			s.Files = map[string]string{"main.go": "aa", "util.go": "bb", "\x1b[2Jx.go": "cc"}
		}, []explain.Change{
			{What: "input", Name: `"\x1b[2Jx.go"`, How: "added"},
		}},
		{"input list gone", func(s *explain.Side) { s.Parts.Inputs.Digest = "t2"; s.Files = nil }, []explain.Change{
			{What: "input", How: "changed", Detail: "2 files before, 2 now; the file list of the earlier run is no longer kept"},
		}},
		{"input patterns", func(s *explain.Side) { s.Parts.Inputs.Patterns = nil; s.Parts.Inputs.Snapshot = true }, []explain.Change{
			{What: "inputs", How: "changed", Detail: `["**/*.go"] → every file`},
		}},
		{"host variable: name only", func(s *explain.Side) { s.Parts.Host["GOFLAGS"] = "h2" }, []explain.Change{
			{What: "env", Name: "GOFLAGS", How: "changed"},
		}},
		{"definition variable: old → new", func(s *explain.Side) { s.Parts.Env["MODE"] = "slow" }, []explain.Change{
			{What: "env", Name: "MODE", How: "changed", Detail: `"fast" → "slow"`},
		}},
		{"variables added and removed", func(s *explain.Side) {
			s.Parts.Host = nil
			s.Parts.RunVars = map[string]string{"VELOCITY_COMMIT": "abc"}
		}, []explain.Change{
			{What: "env", Name: "VELOCITY_COMMIT", How: "added", Detail: `"abc"`},
			{What: "env", Name: "GOFLAGS", How: "removed"},
		}},
		{"script", func(s *explain.Side) { s.Parts.SetScript("go test -race ./...\ngo vet ./...\n") }, []explain.Change{
			{What: "script", How: "changed", Detail: "- go test ./...\n+ go test -race ./..."},
		}},
		{"long script: no text", func(s *explain.Side) { s.Parts.SetScript(strings.Repeat("x", explain.MaxScriptText+1)) }, []explain.Change{
			{What: "script", How: "changed"},
		}},
		{"upstream output", func(s *explain.Side) {
			s.Parts.Upstream["build/compile"] = "o2"
			s.Outputs = map[string]map[string]string{"build/compile": {"dist/app": "x2", "dist/lib": "y"}}
		}, []explain.Change{
			{What: "upstream", Name: "build/compile", How: "changed", Detail: "dist/app changed"},
		}},
		{"upstream outputs gone", func(s *explain.Side) {
			s.Parts.Upstream = nil
			s.Outputs = map[string]map[string]string{}
		}, []explain.Change{
			{What: "upstream", Name: "build/compile", How: "changed", Detail: "dist/app removed, dist/lib removed"},
		}},
		{"upstream deploy", func(s *explain.Side) { s.Parts.Upstream["build/compile"] = "release 1234abcd" }, []explain.Change{
			{What: "upstream", Name: "build/compile", How: "changed", Detail: "a new release was deployed"},
		}},
		{"upstream without outputs added", func(s *explain.Side) { s.Parts.UpstreamSet = "u2" }, []explain.Change{
			{What: "upstream", How: "changed", Detail: "the actions that finish before it changed"},
		}},
		{"secret: name only", func(s *explain.Side) { s.Parts.Secrets["TOKEN"] = "s2" }, []explain.Change{
			{What: "secret", Name: "TOKEN", How: "changed"},
		}},
		{"sidecar", func(s *explain.Side) { s.Parts.Sidecars = nil }, []explain.Change{
			{What: "sidecar", Name: "db", How: "removed"},
		}},
		{"declared outputs", func(s *explain.Side) { s.Parts.Outputs = []string{"dist"} }, []explain.Change{
			{What: "outputs", How: "changed", Detail: `["dist/app"] → ["dist"]`},
		}},
		{"velocity version", func(s *explain.Side) { s.Parts.Velocity = "v2" }, []explain.Change{
			{What: "velocity", How: "changed", Detail: "v1 → v2"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := base()
			tc.change(&cur)
			got := explain.Diff(base(), cur)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff:\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes []explain.Change
		want    string
	}{
		{"files grouped", []explain.Change{
			{What: "input", Name: "main.go", How: "changed"},
			{What: "input", Name: "util.go", How: "changed"},
			{What: "env", Name: "GOFLAGS", How: "changed"},
		}, "2 input files changed (main.go, util.go), env GOFLAGS changed"},
		{"many files", []explain.Change{
			{What: "input", Name: "a", How: "added"}, {What: "input", Name: "b", How: "added"},
			{What: "input", Name: "c", How: "added"}, {What: "input", Name: "d", How: "added"},
		}, "4 input files added (a, b, c, …)"},
		{"more than three reasons", []explain.Change{
			{What: "input", Name: "a", How: "removed"},
			{What: "env", Name: "A", How: "changed"},
			{What: "script", How: "changed"},
			{What: "secret", Name: "TOKEN", How: "changed"},
			{What: "velocity", How: "changed", Detail: "v1 → v2"},
		}, "1 input file removed (a), env A changed, script changed, and 2 more: velocity explain 12 build/test"},
		{"upstream", []explain.Change{{What: "upstream", Name: "build/compile", How: "changed", Detail: "dist/app changed"}},
			"output of build/compile changed (dist/app changed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := explain.Summary(tc.changes, 3, "velocity explain 12 build/test"); got != tc.want {
				t.Errorf("Summary:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestHasherHidesValues: a host variable's value cannot be recognised in
// the record without the data directory's key, and equal values under
// different names do not hash alike.
func TestHasherHidesValues(t *testing.T) {
	a, b := explain.NewHasher([]byte("key-a")), explain.NewHasher([]byte("key-b"))
	if a.Hash("env", "TOKEN", "v") == b.Hash("env", "TOKEN", "v") {
		t.Error("the hash does not depend on the key")
	}
	if a.Hash("env", "A", "v") == a.Hash("env", "B", "v") {
		t.Error("equal values under different names hash alike")
	}
	if a.Hash("env", "A", "v") != a.Hash("env", "A", "v") {
		t.Error("the hash is not stable")
	}
}

func TestListRoundTrip(t *testing.T) {
	files := []artifact.File{
		{Path: "b.go", Mode: 0o644, Digest: artifact.Digest("sha256:" + strings.Repeat("ab", 32))},
		{Path: "a.sh", Mode: 0o755, Digest: artifact.Digest("sha256:" + strings.Repeat("cd", 32))},
		{Path: "link", Mode: 0o777 | fs.ModeSymlink, Link: "a.sh"},
	}
	got, err := explain.ReadList(bytes.NewReader(explain.EncodeList(files)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a.sh": strings.Repeat("cd", 8) + "+x", "b.go": strings.Repeat("ab", 8), "link": "link:a.sh"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list: %v, want %v", got, want)
	}
}

// TestListSize measures the stored input list of a 10,000-file project,
// which one executed action's record points to.
func TestListSize(t *testing.T) {
	files := files10k()
	n := len(explain.EncodeList(files))
	t.Logf("input list of %d files: %d bytes", len(files), n)
	if n > 1<<20 {
		t.Errorf("input list of %d files is %d bytes, want < 1 MiB", len(files), n)
	}
}

func files10k() []artifact.File {
	files := make([]artifact.File, 10000)
	for i := range files {
		sum := fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint(i))))
		files[i] = artifact.File{Path: fmt.Sprintf("pkg/module%03d/sub/file%05d.go", i/100, i), Mode: 0o644, Digest: artifact.Digest("sha256:" + sum)}
	}
	return files
}

// BenchmarkList10k is what an executed action of a 10,000-file project
// adds: storing its input list, and reading the earlier one to explain.
func BenchmarkList10k(b *testing.B) {
	files := files10k()
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			explain.EncodeList(files)
		}
	})
	enc := explain.EncodeList(files)
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			explain.ReadList(bytes.NewReader(enc))
		}
	})
	old, _ := explain.ReadList(bytes.NewReader(enc))
	cur := explain.Entries(files)
	cur["pkg/module001/sub/file00100.go"] = "changed"
	b.Run("diff", func(b *testing.B) {
		for b.Loop() {
			explain.Diff(explain.Side{Files: old, Parts: explain.Parts{Inputs: explain.Inputs{Digest: "a"}}},
				explain.Side{Files: cur, Parts: explain.Parts{Inputs: explain.Inputs{Digest: "b"}}})
		}
	})
}
