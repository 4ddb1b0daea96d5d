package task

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
	"github.com/velocity-ci/velocity/internal/yamllimit"
)

// Binding says how a resource runs locally. Exactly one field is set.
// Bindings files (YAML or JSON) map a Resource ARN, a Lambda function
// name or ARN, or a state machine name or ARN to a binding:
//
//	arn:aws:lambda:us-east-1:123456789012:function:score: { run: ./score.sh }
//	notify: { http: "http://localhost:8080/notify" }
//	arn:aws:states:::sqs:sendMessage: { run: [python3, send.py] }
//	child: { definition: child.asl.json }
type Binding struct {
	// Run is a command: a string is a script for sh -c, an array the
	// program and its arguments. It gets the input on stdin and prints
	// the result on stdout.
	Run any `json:"run,omitempty"`
	// HTTP is a URL the input is POSTed to as JSON; the response body
	// (JSON) is the result.
	HTTP string `json:"http,omitempty"`
	// Definition is a state machine file, for startExecution.
	Definition string `json:"definition,omitempty"`
	// ConcurrencyKey, for a definition, is a JSONPath into the child's
	// input whose value keys its executions: at most ConcurrencyLimit
	// (default 1) with the same value run at once, the others wait in
	// order, as with --concurrency-key. A local addition: AWS has none.
	ConcurrencyKey   string `json:"concurrencyKey,omitempty"`
	ConcurrencyLimit int    `json:"concurrencyLimit,omitempty"`
	// Env is added to a command's environment.
	Env map[string]string `json:"env,omitempty"`
	// Dir is a command's working directory; relative paths (here and in
	// Definition) are relative to the bindings file.
	Dir string `json:"dir,omitempty"`

	command Command
	keyPath *jsonpath.Path
}

// Bindings maps names to bindings.
type Bindings map[string]*Binding

// LoadBindings reads a bindings file.
func LoadBindings(path string) (Bindings, error) {
	src, err := yamllimit.ReadFile(path, asl.MaxDefinitionSize)
	if err != nil {
		return nil, fmt.Errorf("bindings: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("bindings: %w", err)
	}
	return ParseBindings(path, src, filepath.Dir(abs))
}

// ParseBindings parses a bindings file's contents; dir resolves relative
// paths.
func ParseBindings(file string, src []byte, dir string) (Bindings, error) {
	// Bounded like a definition before it is converted: the conversion
	// expands aliases and recurses as deep as the text nests.
	if err := yamllimit.CheckSize(src, asl.MaxDefinitionSize); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if _, err := yamllimit.Parse(src, yamllimit.Limits{}); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	js, err := yaml.YAMLToJSON(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var b Bindings
	if err := json.Unmarshal(js, &b); err != nil {
		return nil, fmt.Errorf("%s: a bindings file maps names to {run: COMMAND}, {http: URL} or {definition: FILE}: %w", file, err)
	}
	names := make([]string, 0, len(b))
	for name := range b {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		bd := b[name]
		if bd == nil {
			return nil, fmt.Errorf("%s: %s: empty binding; give it run, http or definition", file, name)
		}
		set := 0
		for _, ok := range []bool{bd.Run != nil, bd.HTTP != "", bd.Definition != ""} {
			if ok {
				set++
			}
		}
		if set != 1 {
			return nil, fmt.Errorf("%s: %s: give exactly one of run, http or definition", file, name)
		}
		bd.command.Dir = resolveDir(dir, bd.Dir)
		bd.command.Env = bd.Env
		switch run := bd.Run.(type) {
		case nil:
		case string:
			bd.command.Script = run
		case []any:
			for _, a := range run {
				s, ok := a.(string)
				if !ok {
					return nil, fmt.Errorf("%s: %s: run must be a script or a list of strings", file, name)
				}
				bd.command.Argv = append(bd.command.Argv, s)
			}
			if len(bd.command.Argv) == 0 {
				return nil, fmt.Errorf("%s: %s: run is an empty list", file, name)
			}
		default:
			return nil, fmt.Errorf("%s: %s: run must be a script or a list of strings", file, name)
		}
		if bd.Definition != "" {
			bd.Definition = resolveDir(dir, bd.Definition)
		}
		if bd.ConcurrencyKey != "" {
			if bd.Definition == "" {
				return nil, fmt.Errorf("%s: %s: concurrencyKey applies to a state machine's definition only", file, name)
			}
			if bd.keyPath, err = jsonpath.Parse(bd.ConcurrencyKey); err != nil {
				return nil, fmt.Errorf("%s: %s: concurrencyKey: %w", file, name, err)
			}
		}
		if bd.ConcurrencyLimit < 0 {
			return nil, fmt.Errorf("%s: %s: concurrencyLimit must be at least 1", file, name)
		}
	}
	return b, nil
}

// lookup finds the binding of the first name that has one.
func (b Bindings) lookup(names ...string) (*Binding, bool) {
	for _, n := range names {
		if n == "" {
			continue
		}
		if bd, ok := b[n]; ok {
			return bd, true
		}
	}
	return nil, false
}

// functionNames are the names a Lambda function may be bound under: as
// given (name, ARN or partial ARN), without its version or alias, and
// the bare name.
func functionNames(fn string) []string {
	names := []string{fn}
	if i := strings.Index(fn, ":function:"); i >= 0 {
		rest := fn[i+len(":function:"):]
		base := rest
		if j := strings.IndexByte(rest, ':'); j >= 0 {
			base = rest[:j]
			names = append(names, fn[:i+len(":function:")]+base)
		}
		names = append(names, base)
	} else if j := strings.IndexByte(fn, ':'); j >= 0 {
		names = append(names, fn[:j]) // NAME:ALIAS
	}
	return names
}
