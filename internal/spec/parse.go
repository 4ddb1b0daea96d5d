package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/velocity-ci/velocity/internal/yamllimit"
)

// MaxFileSize is the largest velocity.yml read, in bytes (limit "max
// definition size"). The largest real pipelines are tens of kilobytes;
// without a bound a 100 MB file took 3.2 GB to parse.
const MaxFileSize = 1 << 20

// Load reads and parses the definition file at path. A missing file is
// reported with a hint and matches fs.ErrNotExist; problems in the file
// come back as Errors.
func Load(path string) (*Pipeline, error) {
	data, err := yamllimit.ReadFile(path, MaxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf(`%s: %w; run "velocity init" to create one`, path, fs.ErrNotExist)
	}
	var se *yamllimit.SizeError
	if errors.As(err, &se) {
		return nil, Errors{{File: path, Line: se.Line, Col: se.Col, Msg: se.Error()}}
	}
	if err != nil {
		return nil, fmt.Errorf("load pipeline: %w", err)
	}
	p, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	// Only a file on disk has a project whose workflow files can be read.
	if err := checkWorkflowFiles(path, filepath.Dir(path), p); err != nil {
		return nil, err
	}
	return p, nil
}

// Parse parses and validates a definition; file is the name used in
// messages. When the definition has problems the error is Errors, holding
// all of them in file order, and the Pipeline is nil.
func Parse(file string, data []byte) (*Pipeline, error) {
	c := &collector{file: file}
	var se *yamllimit.SizeError
	if errors.As(yamllimit.CheckSize(data, MaxFileSize), &se) {
		return nil, Errors{{File: file, Line: se.Line, Col: se.Col, Msg: se.Error()}}
	}
	// Duplicate keys are allowed here only to be reported by entries,
	// together with the file's other errors, instead of aborting the parse.
	// Nesting and aliases are bounded before the decoder, which follows
	// every alias, sees the tree.
	f, err := yamllimit.Parse(data, yamllimit.Limits{}, parser.AllowDuplicateMapKey())
	var le *yamllimit.LimitError
	if errors.As(err, &le) {
		return nil, Errors{{File: file, Line: le.Line, Col: le.Col, Msg: le.Error()}}
	}
	if err != nil {
		c.errs = append(c.errs, syntaxError(file, err))
		return nil, c.err()
	}
	root := document(c, f)
	if root == nil {
		return nil, c.err()
	}
	d := &decoder{c: c, anchors: collectAnchors(root)}
	p, src := d.pipeline(root)
	validate(c, p, src)
	if err := c.err(); err != nil {
		return nil, err
	}
	p.File = file
	return p, nil
}

// document returns the body of the file's only document, reporting an
// empty file and extra documents. Documents without content do not
// count: a stray trailing "---" is harmless.
func document(c *collector, f *ast.File) ast.Node {
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		c.add(Pos{Line: 1, Col: 1}, "", `the file is empty; it needs at least "stages" with one stage`)
		return nil
	}
	if len(docs) > 1 {
		second := posOf(docs[1].Body)
		if tk := docs[1].Start; tk != nil && tk.Position != nil {
			second = Pos{Line: tk.Position.Line, Col: tk.Position.Column}
		}
		c.add(second, "", "the file holds %d YAML documents but must hold one (the second starts here)", len(docs))
	}
	return docs[0].Body
}

// syntaxError turns the parser's error into an Error at the token it
// blames, with a hint for the slips the parser words obscurely.
func syntaxError(file string, err error) *Error {
	e := &Error{File: file, Line: 1, Col: 1, Msg: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = max(tk.Position.Line, 1), max(tk.Position.Column, 1)
		}
	}
	hint := ""
	switch {
	case strings.Contains(e.Msg, "'\t'"):
		hint = " (indent with spaces; YAML does not allow tabs)"
	case strings.Contains(e.Msg, "mapping value is not allowed in this context"):
		hint = ` (quote values that contain ": ", or check the indentation)`
	}
	// One error, one line: the message may hold the tab it complains of.
	msg := strings.NewReplacer("\t", `\t`, "\n", " ").Replace(e.Msg)
	e.Msg = "invalid YAML: " + msg + hint
	return e
}
