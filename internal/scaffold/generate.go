package scaffold

import (
	"fmt"
	"path/filepath"
)

// Generate detects the kind of project in dir and returns the text of a
// commented velocity.yml for it. The pipeline is named after dir's base
// name and has one stage, build, whose independent actions run in
// parallel.
func Generate(dir string) (Kind, []byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, fmt.Errorf("generate velocity.yml: %w", err)
	}
	kind, err := Detect(abs)
	if err != nil {
		return "", nil, err
	}
	var p plan
	switch kind {
	case Go:
		p, err = goPlan(abs)
	case Node:
		p, err = nodePlan(abs)
	case Python:
		p, err = pythonPlan(abs)
	case Rust:
		p, err = rustPlan(abs)
	case Java:
		p, err = javaPlan(abs)
	case Make:
		p, err = makePlan(abs)
	case Script:
		p, err = scriptPlan(abs)
	default:
		p = genericPlan()
	}
	if err != nil {
		return "", nil, fmt.Errorf("generate velocity.yml for %s project: %w", kind, err)
	}
	return kind, render(filepath.Base(abs), p), nil
}
