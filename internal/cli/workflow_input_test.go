package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow"
)

// countingReader is a 32 MiB JSON array on stdin that counts what was
// read of it.
type countingReader struct{ n int64 }

const countingReaderSize = 32 << 20

func (r *countingReader) Read(p []byte) (int, error) {
	if r.n >= countingReaderSize {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), countingReaderSize-r.n)]
	for i := range p {
		switch at := r.n + int64(i); {
		case at == 0:
			p[i] = '['
		case at == countingReaderSize-1:
			p[i] = ']'
		case at == countingReaderSize-2:
			p[i] = '1'
		default:
			p[i] = "1,"[(at+1)%2]
		}
	}
	r.n += int64(len(p))
	return len(p), nil
}

// An --input larger than an execution may take is refused before it is
// parsed, however it comes (stdin, a file, the flag itself), and nothing
// is recorded: a 37 MB input used to be parsed whole (823 MB) only to be
// refused at the start, and the refused execution stayed RUNNING.
func TestWorkflowInputIsBoundedBeforeItIsParsed(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "pass.asl.json")
	if err := os.WriteFile(def, []byte(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"a":"`+strings.Repeat("x", 4<<20)+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Compact, it fits; as written (pretty-printed), it is larger than
	// the limit: accepted, as Step Functions measures the JSON itself.
	pretty := filepath.Join(dir, "pretty.json")
	var b strings.Builder
	b.WriteString("[\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "%s%d,\n", strings.Repeat(" ", 14), i%10)
	}
	b.WriteString("  0\n]\n")
	if err := os.WriteFile(pretty, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if b.Len() <= workflow.MaxPayloadBytes {
		t.Fatalf("pretty.json is %d bytes: make it larger than the limit", b.Len())
	}
	home := t.TempDir()
	run := func(stdin io.Reader, args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), testOptions(), append([]string{"--data-dir", home, "workflow", "run", def}, args...), stdin, &out, &errb)
		return code, errb.String()
	}

	stdin := &countingReader{}
	code, stderr := run(stdin, "--input", "@-")
	if code != ExitUsage || !strings.Contains(stderr, fmt.Sprint(workflow.MaxPayloadTextBytes)) {
		t.Errorf("stdin: exit %d, stderr %q: want a usage error naming the limit", code, stderr)
	}
	if stdin.n > workflow.MaxPayloadTextBytes+64<<10 {
		t.Errorf("read %d bytes of stdin, limit %d", stdin.n, workflow.MaxPayloadTextBytes)
	}

	code, stderr = run(nil, "--input", "@"+big)
	if code != ExitUsage || !strings.Contains(stderr, fmt.Sprint(workflow.MaxPayloadTextBytes)) {
		t.Errorf("file: exit %d, stderr %q: want a usage error naming the limit", code, stderr)
	}

	// Under the text limit, over the JSON one: refused before it is
	// recorded, naming the limit.
	code, stderr = run(nil, "--input", `{"a":"`+strings.Repeat("x", workflow.MaxPayloadBytes)+`"}`)
	if code != ExitUsage || !strings.Contains(stderr, fmt.Sprint(workflow.MaxPayloadBytes)) {
		t.Errorf("flag: exit %d, stderr %q: want a usage error naming the limit", code, stderr)
	}

	if code, stderr = run(nil, "--input", "@"+pretty); code != ExitOK {
		t.Errorf("pretty-printed input that fits: exit %d, stderr %q", code, stderr)
	}

	var out bytes.Buffer
	Main(context.Background(), testOptions(), []string{"--data-dir", home, "workflow", "list", "--status", "RUNNING"}, nil, &out, io.Discard)
	if strings.Contains(out.String(), "pass") {
		t.Errorf("a refused input left an execution behind:\n%s", out.String())
	}
}
