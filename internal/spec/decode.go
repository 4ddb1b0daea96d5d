package spec

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/velocity-ci/velocity/internal/expr"
)

// decoder applies the velocity.yml schema to a YAML document. Every
// problem goes to c and decoding carries on with what could be read, so
// that one pass reports all of a file's errors.
type decoder struct {
	c       *collector
	anchors *anchors
}

// The three lists of a stage, in the order of Stage's fields; needs stay
// within one of them.
const (
	listActions = iota
	listOnFailure
	listFinally
)

// listKey returns the key a stage list is written under.
func listKey(list int) string {
	return [...]string{"actions", "on_failure", "finally"}[list]
}

// stageSource remembers where the parts of a stage were written, for the
// checks in validate.go that relate stages and actions to each other.
type stageSource struct {
	path  string
	name  Pos // zero when the name is missing or not a string
	lists [3][]actionSource
}

type actionSource struct {
	path string
	// at is where the entry is written: for an alias, the alias, where
	// Action.Pos is its anchor's value.
	at    Pos
	name  Pos   // zero when the name is missing or not a string
	needs []Pos // one per entry of Action.Needs
	// deployKey is where deploy was written, deploy and environment where
	// their values were; zero when absent or not a string.
	deployKey, deploy, environment Pos
	// user is where user was written; zero when absent.
	user Pos
	// limit is where the first of memory: and cpu: is written, limitKey
	// which one it is.
	limit    Pos
	limitKey string
	// outputs is set when the action has an outputs key, even one whose
	// entries were all reported, so a service built from it does not
	// repeat the error.
	outputs bool
}

// pipelineSource remembers where the parts of the file were written, for
// validate.go.
type pipelineSource struct {
	stages       []stageSource
	services     []serviceSource
	environments bool // environments lists at least one environment
	image        Pos  // where the top-level image was written
}

func (d *decoder) pipeline(root ast.Node) (*Pipeline, *pipelineSource) {
	root = d.resolve(root)
	p := &Pipeline{}
	src := &pipelineSource{}
	if _, ok := root.(*ast.MappingNode); !ok {
		d.c.add(posOf(root), "", `the top level must be a mapping with "stages", got %s`, kindOf(root))
		return p, src
	}
	d.mapping(root, "", fields{
		"name": func(v ast.Node) {
			if !isNull(v) {
				p.Name, _ = d.str(v, "name")
			}
		},
		"env":             func(v ast.Node) { p.Env = d.env(v, "env") },
		"env_passthrough": func(v ast.Node) { p.EnvPassthrough = d.passthrough(v, "env_passthrough") },
		"stages":          func(v ast.Node) { p.Stages, src.stages = d.stages(v, "stages") },
		"services":        func(v ast.Node) { p.Services, src.services = d.services(v, "services") },
		"port_range":      func(v ast.Node) { p.PortRange = d.portRange(v, "port_range") },
		"schedules":       func(v ast.Node) { p.Schedules = d.schedules(v, "schedules") },
		"image":           func(v ast.Node) { p.Image, src.image = d.defaultImage(v, "image") },
		"environments": func(v ast.Node) {
			p.Environments = d.environments(v, "environments")
			src.environments = len(p.Environments) > 0
		},
	}, "stages")
	d.checkUsers(p, src)
	return p, src
}

func (d *decoder) stages(v ast.Node, path string) ([]Stage, []stageSource) {
	items, ok := d.list(v, path, "stage")
	if !ok {
		return nil, nil
	}
	stages := make([]Stage, len(items))
	srcs := make([]stageSource, len(items))
	for i, item := range items {
		stages[i], srcs[i] = d.stage(item, index(path, i))
	}
	return stages, srcs
}

// list returns the items of a list that must not be empty, what naming
// one item for the message.
func (d *decoder) list(v ast.Node, path, what string) ([]ast.Node, bool) {
	if isNull(v) {
		d.c.add(posOf(v), path, "must list at least one %s", what)
		return nil, false
	}
	seq, ok := v.(*ast.SequenceNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a list of %ss, got %s", what, kindOf(v))
		return nil, false
	}
	if len(seq.Values) == 0 {
		d.c.add(posOf(v), path, "must list at least one %s", what)
		return nil, false
	}
	items := make([]ast.Node, len(seq.Values))
	for i, item := range seq.Values {
		items[i] = d.resolve(item)
	}
	return items, true
}

func (d *decoder) stage(v ast.Node, path string) (Stage, stageSource) {
	s := Stage{Pos: posOf(v)}
	src := stageSource{path: path}
	d.mapping(v, path, fields{
		"name": func(v ast.Node) { s.Name, src.name = d.name(v, join(path, "name")) },
		"actions": func(v ast.Node) {
			s.Actions, src.lists[listActions] = d.actions(v, join(path, "actions"), true)
		},
		"on_failure": func(v ast.Node) {
			s.OnFailure, src.lists[listOnFailure] = d.actions(v, join(path, "on_failure"), false)
		},
		"finally": func(v ast.Node) {
			s.Finally, src.lists[listFinally] = d.actions(v, join(path, "finally"), false)
		},
		"approval": func(v ast.Node) { s.Approval = d.approval(v, join(path, "approval")) },
		"if":       func(v ast.Node) { s.If = d.condition(v, join(path, "if"), expr.Options{NoStatus: true}) },
	}, "name", "actions")
	return s, src
}

// approval reads a stage's approval; null means none.
func (d *decoder) approval(v ast.Node, path string) string {
	if isNull(v) {
		return ""
	}
	got := kindOf(v)
	if s, ok := scalarText(v); ok {
		if s == "manual" {
			return s
		}
		got = fmt.Sprintf("%q", s)
	} else if b, ok := v.(*ast.BoolNode); ok {
		got = b.GetToken().Value
	}
	d.c.add(posOf(v), path, `must be "manual" (the only approval there is), got %s`, got)
	return ""
}

// actions reads one of a stage's lists; only the main list must have
// entries, on_failure and finally may be absent, null or empty.
func (d *decoder) actions(v ast.Node, path string, required bool) ([]Action, []actionSource) {
	var items []ast.Node
	if required {
		var ok bool
		if items, ok = d.list(v, path, "action"); !ok {
			return nil, nil
		}
	} else if !isNull(v) {
		seq, ok := v.(*ast.SequenceNode)
		if !ok {
			d.c.add(posOf(v), path, "must be a list of actions, got %s", kindOf(v))
			return nil, nil
		}
		for _, item := range seq.Values {
			items = append(items, d.resolve(item))
		}
	}
	if len(items) == 0 {
		return nil, nil
	}
	actions := make([]Action, len(items))
	srcs := make([]actionSource, len(items))
	written := v.(*ast.SequenceNode).Values
	for i, item := range items {
		actions[i], srcs[i] = d.action(item, index(path, i))
		srcs[i].at = posOf(written[i])
	}
	return actions, srcs
}

func (d *decoder) action(v ast.Node, path string) (Action, actionSource) {
	a := Action{Pos: posOf(v), Retry: Retry{Attempts: 1}}
	src := actionSource{path: path}
	var (
		cache    cacheSource
		secrets  []Pos
		sidecars []sidecarSource
		mxSrc    matrixSource
		ifNode   ast.Node
		wf       Workflow
		build    ast.Node
	)
	keys, ok := d.mappingKeys(v, path, fields{
		"name":  func(v ast.Node) { a.Name, src.name = d.name(v, join(path, "name")) },
		"run":   func(v ast.Node) { a.Run = d.script(v, join(path, "run")) },
		"image": func(v ast.Node) { a.Image = d.image(v, join(path, "image"), true) },
		"user": func(v ast.Node) {
			if a.User = d.user(v, join(path, "user")); a.User != "" {
				src.user = posOf(v)
			}
		},
		"memory": func(v ast.Node) {
			if a.Memory = d.memory(v, join(path, "memory")); a.Memory != 0 && src.limit == (Pos{}) {
				src.limit, src.limitKey = posOf(v), "memory"
			}
		},
		"cpu": func(v ast.Node) {
			if a.CPU = d.cpu(v, join(path, "cpu")); a.CPU != 0 && src.limit == (Pos{}) {
				src.limit, src.limitKey = posOf(v), "cpu"
			}
		},
		"deploy": func(v ast.Node) {
			if a.Deploy = d.run(v, join(path, "deploy")); strings.TrimSpace(a.Deploy) != "" {
				src.deploy = posOf(v)
			}
		},
		"environment": func(v ast.Node) {
			if a.Environment = d.run(v, join(path, "environment")); strings.TrimSpace(a.Environment) != "" {
				src.environment = posOf(v)
			}
		},
		"workflow": func(v ast.Node) { wf.File = d.workflowFile(v, join(path, "workflow")) },
		"build":    func(v ast.Node) { build = v },
		"input":    func(v ast.Node) { wf.Input = d.workflowInput(v, join(path, "input")) },
		"wait":     func(v ast.Node) { wf.Detach = !d.boolean(v, join(path, "wait")) },
		"needs":    func(v ast.Node) { a.Needs, src.needs = d.needs(v, join(path, "needs")) },
		"env":      func(v ast.Node) { a.Env = d.env(v, join(path, "env")) },
		"timeout": func(v ast.Node) {
			if isNull(v) {
				return
			}
			if t, ok := d.duration(v, join(path, "timeout")); ok {
				if t <= 0 {
					d.c.add(posOf(v), join(path, "timeout"), "must be greater than 0 (leave it out for no limit)")
				}
				a.Timeout = t
			}
		},
		"retry":         func(v ast.Node) { a.Retry = d.retry(v, join(path, "retry")) },
		"allow_failure": func(v ast.Node) { a.AllowFailure = d.boolean(v, join(path, "allow_failure")) },
		"outputs": func(v ast.Node) {
			a.Outputs = d.globs(v, join(path, "outputs"))
			src.outputs = !isNull(v)
		},
		"inputs":    func(v ast.Node) { a.Inputs = d.inputs(v, join(path, "inputs")) },
		"cache":     func(v ast.Node) { d.cache(v, join(path, "cache"), &a, &cache) },
		"cache_key": func(v ast.Node) { d.cacheKey(v, join(path, "cache_key"), &a, &cache) },
		"secrets":   func(v ast.Node) { a.Secrets, secrets = d.secrets(v, join(path, "secrets")) },
		"sidecars":  func(v ast.Node) { a.Sidecars, sidecars = d.sidecars(v, join(path, "sidecars")) },
		"matrix":    func(v ast.Node) { a.Matrix, mxSrc = d.matrix(v, join(path, "matrix")) },
		"if":        func(v ast.Node) { ifNode = v },
	}, []string{"name", "run"}, "name")
	if !ok {
		return a, src
	}
	if a.Matrix != nil && a.Name != "" {
		d.cells(a.Matrix, mxSrc, a.Name, join(path, "matrix"))
		d.checkMatrixEnv(&a, join(path, "matrix"))
	}
	if _, set := keys["if"]; set {
		a.If = d.condition(ifNode, join(path, "if"), conditionOptions(a.Matrix))
	}
	// Keys may come in any order, so the checks that relate them wait
	// until the whole action is read.
	d.checkCache(&a, cache, path)
	d.checkEnvNames(&a, path, secrets, sidecars)
	src.deployKey = keys["deploy"]
	d.checkDeployKeys(v, path, keys)
	d.checkWorkflowKeys(path, keys)
	d.checkBuildKeys(path, keys)
	if _, set := keys["build"]; set {
		a.Build = d.build(build, join(path, "build"))
	}
	if at, set := keys["workflow"]; set {
		if wf.Input == "" {
			wf.Input = "{}"
		}
		wf.Pos = at
		a.Workflow = &wf
	}
	return a, src
}

// name reads a stage or action name. An ill-formed name is still
// returned, so that the checks for duplicates and needs do not add
// errors that only repeat this one.
func (d *decoder) name(v ast.Node, path string) (string, Pos) {
	return d.checkedName(v, path, validName, `%q is not a valid name (use letters, digits, "_", "." and "-"; "." and ".." alone name folders)`)
}

// checkedName reads a name that valid must accept, reporting invalidMsg
// (with the name for %q) otherwise.
func (d *decoder) checkedName(v ast.Node, path string, valid func(string) bool, invalidMsg string) (string, Pos) {
	if isNull(v) {
		d.c.add(posOf(v), path, "must not be empty")
		return "", Pos{}
	}
	s, ok := d.str(v, path)
	if !ok {
		return "", Pos{}
	}
	if s == "" {
		d.c.add(posOf(v), path, "must not be empty")
		return "", Pos{}
	}
	if !valid(s) {
		d.c.add(posOf(v), path, invalidMsg, s)
	}
	return s, posOf(v)
}

// validName keeps names usable unquoted in paths, URLs and the command
// line: velocity run build.test. "." and ".." would make a stage's log
// folder the run's own folder or the folder of every run.
func validName(s string) bool {
	if s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !isAlnum(r) && r != '_' && r != '.' && r != '-' {
			return false
		}
	}
	return s != ""
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// script reads an action's run. A GitHub Actions expression in it is
// refused rather than run: Velocity substitutes nothing into scripts, so
// that untrusted text (a branch name, a matrix value) never becomes shell
// code; values reach the script as environment variables.
func (d *decoder) script(v ast.Node, path string) string {
	s := d.run(v, path)
	if i := strings.Index(s, "${{"); i >= 0 {
		tmpl := s[i:]
		if j := strings.Index(tmpl, "}}"); j >= 0 {
			tmpl = tmpl[:j+2]
		}
		d.c.add(posOf(v), path, "%q is not substituted: velocity.yml puts no values into scripts, so that untrusted text never becomes shell code; "+
			"read them from the environment instead ($MATRIX_NAME for matrix.NAME, $VELOCITY_BRANCH, ...)", tmpl)
	}
	return s
}

func (d *decoder) run(v ast.Node, path string) string {
	if isNull(v) {
		d.c.add(posOf(v), path, "must not be empty")
		return ""
	}
	s, ok := d.str(v, path)
	if ok && strings.TrimSpace(s) == "" {
		d.c.add(posOf(v), path, "must not be empty")
	}
	return s
}

// str reads a string. Numbers are accepted as written (a stage named 2
// is fine); booleans are not, as "run: true" is more likely a slip than
// a script.
func (d *decoder) str(v ast.Node, path string) (string, bool) {
	s, ok := scalarText(v)
	if !ok {
		d.c.add(posOf(v), path, "must be a string, got %s", kindOf(v))
	}
	return s, ok
}

// needs accepts a single action name as well as a list, since
// "needs: test" is how most actions with one dependency read best.
func (d *decoder) needs(v ast.Node, path string) ([]string, []Pos) {
	if isNull(v) {
		return nil, nil
	}
	if s, ok := scalarText(v); ok {
		return []string{s}, []Pos{posOf(v)}
	}
	seq, ok := v.(*ast.SequenceNode)
	if !ok {
		d.c.add(posOf(v), path, "must be an action name or a list of action names, got %s", kindOf(v))
		return nil, nil
	}
	var names []string
	var pos []Pos
	for _, item := range seq.Values {
		item = d.resolve(item)
		s, ok := scalarText(item)
		if !ok {
			d.c.add(posOf(item), path, "each entry must be an action name, got %s", kindOf(item))
			continue
		}
		names = append(names, s)
		pos = append(pos, posOf(item))
	}
	return names, pos
}

func (d *decoder) env(v ast.Node, path string) map[string]string {
	if isNull(v) {
		return nil
	}
	m, ok := v.(*ast.MappingNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a mapping of variable names to values, got %s", kindOf(v))
		return nil
	}
	var env map[string]string
	for _, e := range d.entries(m, path) {
		if !validEnvName(e.key) {
			d.c.add(posOf(e.keyNode), path, `%q is not a valid variable name (use letters, digits and "_", not starting with a digit)`, e.key)
			continue
		}
		val, ok := scalarText(e.value)
		if b, isBool := e.value.(*ast.BoolNode); isBool {
			val, ok = b.GetToken().Value, true
		}
		if !ok {
			msg := "must be a string, number or boolean, got %s"
			if isNull(e.value) {
				// An empty value reads as "unset" to some and as "" to
				// others; make the user say which.
				msg += ` (write "" for an empty value)`
			}
			d.c.add(posOf(e.value), join(path, e.key), msg, kindOf(e.value))
			continue
		}
		if env == nil {
			env = map[string]string{}
		}
		env[e.key] = val
	}
	return env
}

// validEnvName accepts the names a shell can expand: a variable called
// MY-VAR could be set but never read as $MY-VAR.
func validEnvName(s string) bool {
	for i, r := range s {
		if !isAlnum(r) && r != '_' || i == 0 && r >= '0' && r <= '9' {
			return false
		}
	}
	return s != ""
}

func (d *decoder) passthrough(v ast.Node, path string) []string {
	if isNull(v) {
		return nil
	}
	seq, ok := v.(*ast.SequenceNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a list of strings, got %s", kindOf(v))
		return nil
	}
	var names []string
	seen := map[string]bool{}
	for _, item := range seq.Values {
		item = d.resolve(item)
		s, ok := scalarText(item)
		switch {
		case !ok:
			d.c.add(posOf(item), path, "each entry must be a string, got %s", kindOf(item))
		case s == "*":
			// Passing the whole host environment defeats the allowlist,
			// and with it reproducible runs.
			d.c.add(posOf(item), path, `"*" would pass every host variable; name them, or use a prefix such as "CI_*"`)
		case !validEnvName(strings.TrimSuffix(s, "*")):
			d.c.add(posOf(item), path, `%q is not a variable name or a prefix ending in "*"`, s)
		case seen[s]:
			d.c.add(posOf(item), path, "%q is listed twice", s)
		default:
			seen[s] = true
			names = append(names, s)
		}
	}
	return names
}

// duration reads a Go duration. Plain numbers are refused rather than
// read as seconds: "timeout: 5" is as likely to mean minutes.
func (d *decoder) duration(v ast.Node, path string) (time.Duration, bool) {
	s, ok := scalarText(v)
	if !ok {
		d.c.add(posOf(v), path, "must be a duration such as 30s, 5m or 1h30m, got %s", kindOf(v))
		return 0, false
	}
	t, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		d.c.add(posOf(v), path, "%q is not a duration (use e.g. 30s, 5m, 1h30m)", s)
		return 0, false
	}
	return t, true
}

func (d *decoder) retry(v ast.Node, path string) Retry {
	r := Retry{Attempts: 1}
	if isNull(v) {
		return r
	}
	if _, ok := v.(*ast.MappingNode); !ok {
		d.c.add(posOf(v), path, "must be a mapping such as {attempts: 3, backoff: 10s}, got %s", kindOf(v))
		return r
	}
	backoffSet := false
	d.mapping(v, path, fields{
		"attempts": func(v ast.Node) {
			if isNull(v) {
				return
			}
			n, ok := v.(*ast.IntegerNode)
			if !ok {
				d.c.add(posOf(v), join(path, "attempts"), "must be an integer, got %s", kindOf(v))
				return
			}
			switch i := n.Value.(type) {
			case int64:
				r.Attempts = int(max(min(i, math.MaxInt32), math.MinInt32))
			case uint64:
				r.Attempts = int(min(i, math.MaxInt32))
			}
			if r.Attempts < 1 {
				d.c.add(posOf(v), join(path, "attempts"), "must be at least 1 (the first attempt counts), got %s", n.GetToken().Value)
			}
		},
		"backoff": func(v ast.Node) {
			if isNull(v) {
				return
			}
			t, ok := d.duration(v, join(path, "backoff"))
			if !ok {
				return
			}
			if t < 0 {
				d.c.add(posOf(v), join(path, "backoff"), "must not be negative, got %s", t)
			}
			r.Backoff, backoffSet = t, true
		},
	})
	if r.Attempts > 1 && !backoffSet {
		// An immediate retry mostly meets the same flaky network or
		// busy service that failed the first attempt.
		r.Backoff = time.Second
	}
	return r
}

func (d *decoder) boolean(v ast.Node, path string) bool {
	if isNull(v) {
		return false
	}
	b, ok := v.(*ast.BoolNode)
	if !ok {
		got := kindOf(v)
		if s, isText := scalarText(v); isText {
			got = fmt.Sprintf("%q", s)
		}
		d.c.add(posOf(v), path, "must be true or false, got %s", got)
		return false
	}
	return b.Value
}

// notForDeploy lists the action keys that configure a script, which a
// deploy action does not run.
var notForDeploy = []string{"env", "outputs", "inputs", "cache", "cache_key", "secrets", "sidecars", "matrix", "image", "user", "memory", "cpu"}

// checkDeployKeys relates an action's run and deploy, of which it has
// exactly one, and the keys that apply to only one of them.
func (d *decoder) checkDeployKeys(v ast.Node, path string, keys map[string]Pos) {
	runAt, run := keys["run"]
	deployAt, deploy := keys["deploy"]
	wfAt, wf := keys["workflow"]
	buildAt, build := keys["build"]
	switch {
	case build && (run || deploy || wf):
		other, at := "run", runAt
		if deploy {
			other, at = "deploy", deployAt
		} else if wf {
			other, at = "workflow", wfAt
		}
		d.c.add(later(at, buildAt), path, "%s and build cannot both be set; an action does exactly one of run, deploy, workflow and build", other)
	case run && deploy:
		d.c.add(later(runAt, deployAt), path, "run and deploy cannot both be set; an action either runs a script or deploys a service")
	case run && wf:
		d.c.add(later(runAt, wfAt), path, "run and workflow cannot both be set; an action either runs a script or starts a workflow")
	case deploy && wf:
		d.c.add(later(deployAt, wfAt), path, "deploy and workflow cannot both be set; an action either deploys a service or starts a workflow")
	case !run && !deploy && !wf && !build:
		d.c.add(posOf(v), path, "missing required key %q", "run")
	}
	envAt, env := keys["environment"]
	if !deploy {
		if env {
			d.c.add(envAt, path, "environment only applies to deploy actions (add deploy: SERVICE, or remove it)")
		}
		return
	}
	if !env {
		d.c.add(posOf(v), path, "missing required key %q (the environment to deploy to)", "environment")
	}
	for _, k := range notForDeploy {
		if at, set := keys[k]; set {
			why := "a deploy action runs no script"
			if k == "env" || k == "secrets" {
				why = "set it on the service under services instead"
			}
			d.c.add(at, path, "%s does not apply to a deploy action; %s", k, why)
		}
	}
}

// later returns whichever of a and b comes later in the file.
func later(a, b Pos) Pos {
	if a.Line > b.Line || a.Line == b.Line && a.Col > b.Col {
		return a
	}
	return b
}
