package spec

import (
	"net/url"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// This file reads the top-level environments key: the named places
// services are deployed to and the host names that route to them.

// serviceVar is the placeholder of a host replaced by a service's name.
const serviceVar = "{service}"

// defaultHost returns the host of environment env when it lists none.
func defaultHost(env string) string {
	return serviceVar + "." + env + ".localhost"
}

// hostOwner is the environment a host was first given to.
type hostOwner struct {
	env  string
	line int
}

// environments reads the environments mapping, name to environment, in
// file order. A host may route to one environment only.
func (d *decoder) environments(v ast.Node, path string) []Environment {
	if isNull(v) {
		return nil
	}
	m, ok := v.(*ast.MappingNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a mapping of environment names to environments, got %s", kindOf(v))
		return nil
	}
	var envs []Environment
	owners := map[string]hostOwner{}
	for _, e := range d.entries(m, path) {
		if !validHostLabel(e.key) {
			d.c.add(posOf(e.keyNode), path, `%q is not a valid environment name (use lowercase letters, digits and "-", starting with a letter and not ending with "-"; it becomes part of host names)`, e.key)
		}
		env := Environment{Name: e.key, Pos: posOf(e.keyNode)}
		at := join(path, e.key)
		var hostPos []Pos
		if !isNull(e.value) {
			d.mapping(e.value, at, fields{
				"hosts": func(v ast.Node) { env.Hosts, hostPos = d.hosts(v, join(at, "hosts")) },
				"url":   func(v ast.Node) { env.URL = d.url(v, join(at, "url")) },
			})
		}
		if env.Hosts == nil {
			env.Hosts = []string{defaultHost(env.Name)}
			hostPos = []Pos{env.Pos}
		}
		for i, h := range env.Hosts {
			owner, taken := owners[h]
			switch {
			case !taken:
				owners[h] = hostOwner{env.Name, hostPos[i].Line}
			case hostPos[i] == env.Pos:
				d.c.add(env.Pos, path, "the default host %q of environment %q is also a host of environment %q (line %d); list hosts for one of them",
					h, env.Name, owner.env, owner.line)
			default:
				d.c.add(hostPos[i], join(at, "hosts"), "%q is also a host of environment %q (line %d); a host routes to one environment only",
					h, owner.env, owner.line)
			}
		}
		envs = append(envs, env)
	}
	return envs
}

// hosts reads the host names of an environment. Null keeps the default;
// an empty list is refused, as an environment nothing routes to cannot
// be reached.
func (d *decoder) hosts(v ast.Node, path string) ([]string, []Pos) {
	if isNull(v) {
		return nil, nil
	}
	items, ok := d.list(v, path, "host")
	if !ok {
		return nil, nil
	}
	var hosts []string
	var pos []Pos
	seen := map[string]bool{}
	for _, item := range items {
		s, ok := scalarText(item)
		switch {
		case !ok:
			d.c.add(posOf(item), path, "each entry must be a host name, got %s", kindOf(item))
		case strings.ContainsAny(s, ":/"):
			d.c.add(posOf(item), path, "%q is not a host name; write the host alone, without scheme, port or path, such as {service}.example.com", s)
		case strings.ContainsAny(strings.ReplaceAll(s, serviceVar, ""), "{}"):
			d.c.add(posOf(item), path, "%q: the only placeholder a host may hold is {service}", s)
		case !validHost(strings.ReplaceAll(s, serviceVar, "x")):
			d.c.add(posOf(item), path, `%q is not a valid host name (use lowercase letters, digits, "-" and ".", and {service} for the service's name)`, s)
		case seen[s]:
			d.c.add(posOf(item), path, "%q is listed twice", s)
		default:
			seen[s] = true
			hosts = append(hosts, s)
			pos = append(pos, posOf(item))
		}
	}
	if hosts == nil {
		// Every entry was reported; the default would only hide that.
		return []string{}, nil
	}
	return hosts, pos
}

// validHost accepts lowercase DNS names such as web.staging.localhost.
func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}

// url reads the address acceptance tests reach an environment at.
func (d *decoder) url(v ast.Node, path string) string {
	if isNull(v) {
		return ""
	}
	s, ok := d.str(v, path)
	if !ok {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		d.c.add(posOf(v), path, "%q is not an http or https URL such as https://staging.example.com", s)
		return ""
	}
	return s
}
