package spec

import (
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// This file reads the keys of an action that add to its environment:
// secrets and sidecars.

// Defaults of a sidecar's readiness check.
const (
	defaultReadyTimeout  = 30 * time.Second
	defaultReadyInterval = 100 * time.Millisecond
)

// secrets reads the names of the stored secrets an action receives, and
// where each is written.
func (d *decoder) secrets(v ast.Node, path string) ([]string, []Pos) {
	if isNull(v) {
		return nil, nil
	}
	seq, ok := v.(*ast.SequenceNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a list of secret names, got %s", kindOf(v))
		return nil, nil
	}
	var names []string
	var pos []Pos
	seen := map[string]bool{}
	for _, item := range seq.Values {
		item = d.resolve(item)
		s, ok := scalarText(item)
		switch {
		case !ok:
			d.c.add(posOf(item), path, "each entry must be a secret name, got %s", kindOf(item))
		case !validEnvName(s):
			// The secret arrives as a variable of the same name.
			d.c.add(posOf(item), path, `%q is not a valid secret name (use letters, digits and "_", not starting with a digit)`, s)
		case seen[s]:
			d.c.add(posOf(item), path, "%q is listed twice", s)
		default:
			seen[s] = true
			names = append(names, s)
			pos = append(pos, posOf(item))
		}
	}
	return names, pos
}

// sidecarSource remembers where a sidecar's name was written; zero when
// the name is missing or not a string.
type sidecarSource struct {
	path string
	name Pos
}

func (d *decoder) sidecars(v ast.Node, path string) ([]Sidecar, []sidecarSource) {
	if isNull(v) {
		return nil, nil
	}
	seq, ok := v.(*ast.SequenceNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a list of sidecars, got %s", kindOf(v))
		return nil, nil
	}
	var scs []Sidecar
	var srcs []sidecarSource
	for i, item := range seq.Values {
		sc, src := d.sidecar(d.resolve(item), index(path, i))
		scs = append(scs, sc)
		srcs = append(srcs, src)
	}
	return scs, srcs
}

func (d *decoder) sidecar(v ast.Node, path string) (Sidecar, sidecarSource) {
	sc := Sidecar{Pos: posOf(v), Ready: Ready{Timeout: defaultReadyTimeout, Interval: defaultReadyInterval}}
	src := sidecarSource{path: path}
	keys, ok := d.mappingKeys(v, path, fields{
		"name": func(v ast.Node) { sc.Name, src.name = d.sidecarName(v, join(path, "name")) },
		"run":  func(v ast.Node) { sc.Run = d.run(v, join(path, "run")) },
		"env": func(v ast.Node) {
			sc.Env = d.env(v, join(path, "env"))
			d.sidecarEnv(v, join(path, "env"))
		},
		"ready": func(v ast.Node) { sc.Ready = d.ready(v, join(path, "ready")) },
		"image": func(v ast.Node) { sc.Image = d.image(v, join(path, "image"), false) },
		"port":  func(v ast.Node) { sc.Port = d.port(v, join(path, "port")) },
	}, []string{"name", "run"}, "name")
	if ok {
		d.checkSidecarImage(v, path, keys, &sc)
	}
	return sc, src
}

// sidecarName reads a sidecar's name, which also names the variables
// that tell the action where the sidecar listens: db gives DB_HOST,
// DB_PORT and DB_ADDR. A leading digit would make them unreadable as
// shell variables. As with action names, an ill-formed name is still
// returned so that the duplicate check does not repeat the error.
func (d *decoder) sidecarName(v ast.Node, path string) (string, Pos) {
	return d.checkedName(v, path, validSidecarName,
		`%q is not a valid sidecar name (use lowercase letters, digits, "_" and "-", starting with a letter)`)
}

func validSidecarName(s string) bool {
	for i, r := range s {
		lower := r >= 'a' && r <= 'z'
		if i == 0 && !lower || !lower && (r < '0' || r > '9') && r != '_' && r != '-' {
			return false
		}
	}
	return s != ""
}

// sidecarVars returns the variables a sidecar named name sets for its
// action.
func sidecarVars(name string) []string {
	prefix := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	return []string{prefix + "_HOST", prefix + "_PORT", prefix + "_ADDR"}
}

// sidecarEnv reports env keys of a sidecar that Velocity sets itself.
func (d *decoder) sidecarEnv(v ast.Node, path string) {
	m, ok := v.(*ast.MappingNode)
	if !ok {
		return
	}
	for _, mv := range m.Values {
		switch k := keyText(mv.Key); k {
		case "PORT":
			d.c.add(posOf(mv.Key), path, "PORT is set by Velocity to the free port the sidecar must listen on")
		case "VELOCITY_SIDECAR_DIR":
			d.c.add(posOf(mv.Key), path, "VELOCITY_SIDECAR_DIR is set by Velocity to the sidecar's directory")
		}
	}
}

// ready reads a sidecar's readiness check: a command, or a mapping that
// may also set how long and how often to poll.
func (d *decoder) ready(v ast.Node, path string) Ready {
	r := Ready{Timeout: defaultReadyTimeout, Interval: defaultReadyInterval}
	if isNull(v) {
		return r
	}
	if _, ok := scalarText(v); ok {
		r.Run = d.run(v, path)
		return r
	}
	if _, ok := v.(*ast.MappingNode); !ok {
		d.c.add(posOf(v), path, "must be a command or a mapping such as {run: pg_isready, timeout: 1m, interval: 1s}, got %s", kindOf(v))
		return r
	}
	positive := func(v ast.Node, path string, t *time.Duration) {
		if isNull(v) {
			return
		}
		if got, ok := d.duration(v, path); ok {
			if got <= 0 {
				d.c.add(posOf(v), path, "must be greater than 0")
			}
			*t = got
		}
	}
	d.mapping(v, path, fields{
		"run":      func(v ast.Node) { r.Run = d.run(v, join(path, "run")) },
		"timeout":  func(v ast.Node) { positive(v, join(path, "timeout"), &r.Timeout) },
		"interval": func(v ast.Node) { positive(v, join(path, "interval"), &r.Interval) },
	})
	return r
}

// checkEnvNames relates the names an action's environment gets from env,
// secrets and sidecars, which may be written in any order: each variable
// must come from one place only.
func (d *decoder) checkEnvNames(a *Action, path string, secrets []Pos, sidecars []sidecarSource) {
	for i, s := range a.Secrets {
		if _, set := a.Env[s]; set {
			d.c.add(secrets[i], join(path, "secrets"), "%q conflicts with env.%s; a variable is either a secret or set in env", s, s)
		}
	}
	type origin struct {
		name string
		line int
	}
	byVar := map[string]origin{}
	first := map[string]Pos{}
	for i, sc := range a.Sidecars {
		src := sidecars[i]
		if src.name == (Pos{}) {
			continue
		}
		at := join(src.path, "name")
		if p, dup := first[sc.Name]; dup {
			d.c.add(src.name, at, "duplicate sidecar name %q (first defined at line %d)", sc.Name, p.Line)
			continue
		}
		first[sc.Name] = src.name
		if !validSidecarName(sc.Name) {
			continue
		}
		vars := sidecarVars(sc.Name)
		if o, clash := byVar[vars[0]]; clash {
			d.c.add(src.name, at, "sidecar %q sets the same variables as %q (line %d): %s",
				sc.Name, o.name, o.line, strings.Join(vars, ", "))
			continue
		}
		byVar[vars[0]] = origin{sc.Name, src.name.Line}
		for _, name := range vars {
			where := ""
			if _, set := a.Env[name]; set {
				where = "is also a key of env"
			} else if slices.Contains(a.Secrets, name) {
				where = "is also listed in secrets"
			}
			if where != "" {
				d.c.add(src.name, at, "sidecar %q sets %s, which %s; rename one of them", sc.Name, name, where)
			}
		}
	}
}
