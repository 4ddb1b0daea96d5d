package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// This file reads the keys of a workflow action: workflow (a state
// machine definition in the project), input and wait.

// Workflow is what a workflow action starts instead of running a script.
type Workflow struct {
	// File is the definition (.asl.json or .asl.yaml), relative to the
	// project, slash-separated.
	File string
	// Input is the execution's input as JSON text, "{}" when not set. It
	// reaches the workflow only as its input, never a shell line.
	Input string
	// Detach (wait: false) lets the action succeed once the execution is
	// recorded and started; it then runs in the background.
	Detach bool
	// Pos is where the workflow key is written, for errors about the file.
	Pos Pos
}

// notForWorkflow lists the action keys that configure a script, which a
// workflow action does not run; its tasks' commands are in the
// definition.
var notForWorkflow = []string{"env", "outputs", "inputs", "cache", "cache_key", "secrets", "sidecars", "matrix", "image", "user", "memory", "cpu"}

// workflowInput reads input: any YAML value, or a string holding JSON,
// kept as compact JSON.
func (d *decoder) workflowInput(v ast.Node, path string) string {
	v = d.resolve(v)
	if s, ok := v.(*ast.StringNode); ok {
		var x any
		if err := json.Unmarshal([]byte(s.Value), &x); err != nil {
			d.c.add(posOf(v), path, "a string input must hold JSON (%v); write the value as YAML instead, e.g. input: {items: [a, b]}", err)
			return ""
		}
		b, _ := json.Marshal(x)
		return string(b)
	}
	var x any
	if err := yaml.NodeToValue(v, &x); err != nil {
		d.c.add(posOf(v), path, "cannot read the input: %v", err)
		return ""
	}
	b, err := json.Marshal(x)
	if err != nil {
		d.c.add(posOf(v), path, "the input is not a JSON value (%v): use string keys", err)
		return ""
	}
	return string(b)
}

// workflowFile reads the workflow key's value: a path inside the project.
func (d *decoder) workflowFile(v ast.Node, path string) string {
	s, ok := d.str(d.resolve(v), path)
	if !ok {
		return ""
	}
	clean, problem := checkPath(s, false)
	if problem != "" {
		d.c.add(posOf(v), path, "%s", problem)
		return ""
	}
	return clean
}

// checkWorkflowKeys relates a workflow action's keys: input and wait
// only with workflow, and none of a script's keys with it.
func (d *decoder) checkWorkflowKeys(path string, keys map[string]Pos) {
	_, wf := keys["workflow"]
	if !wf {
		if at, set := keys["input"]; set {
			// The likelier slip in a script action is the files it reads.
			d.c.add(at, path, `input only applies to workflow actions; did you mean "inputs" (the files the action reads)?`)
		}
		if at, set := keys["wait"]; set {
			d.c.add(at, path, "wait only applies to workflow actions (add workflow: FILE, or remove it)")
		}
		return
	}
	for _, k := range notForWorkflow {
		if at, set := keys[k]; set {
			d.c.add(at, path, "%s does not apply to a workflow action; a workflow action runs no script (its tasks' commands are in the definition)", k)
		}
	}
}

// checkWorkflowFiles checks that every workflow action names a valid
// definition in the project at dir; errors point at the workflow key.
func checkWorkflowFiles(file, dir string, p *Pipeline) error {
	var errs Errors
	for si := range p.Stages {
		for list, actions := range stageLists(&p.Stages[si]) {
			for ai := range actions {
				w := actions[ai].Workflow
				if w == nil || w.File == "" {
					continue
				}
				at := fmt.Sprintf("stages[%d].%s[%d].workflow", si, listKey(list), ai)
				add := func(format string, args ...any) {
					errs = append(errs, &Error{File: file, Line: w.Pos.Line, Col: w.Pos.Col, Path: at, Msg: fmt.Sprintf(format, args...)})
				}
				src, err := asl.ReadFile(filepath.Join(dir, filepath.FromSlash(w.File)))
				switch {
				case errors.Is(err, fs.ErrNotExist):
					add("%s: no such file in the project", w.File)
					continue
				case err != nil:
					add("%v", err)
					continue
				}
				for _, e := range asl.Validate(w.File, src) {
					add("invalid definition: %s", e.String())
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
