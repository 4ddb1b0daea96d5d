package spec

import (
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/ast"
)

// This file reads the build key of an action: a container image built
// from a directory of the workspace and a Dockerfile.

// Build is what a build action builds instead of running a script.
type Build struct {
	// Context is the directory sent to the builder, relative to the
	// workspace, slash-separated; "." (the default) is the whole
	// workspace.
	Context string
	// Dockerfile is the Dockerfile's path relative to Context; default
	// "Dockerfile". It may lead out of the context ("../docker/app"),
	// not out of the workspace.
	Dockerfile string
	// Tags name the image. A NAME alone gets two tags, NAME:COMMIT (the
	// first 12 characters of the commit) and NAME:latest; NAME:TAG is
	// used as written. Empty means the tags of PROJECT/ACTION.
	Tags []string `json:",omitempty"`
	// Args are the Dockerfile's build arguments (ARG).
	Args map[string]string `json:",omitempty"`
	// Target is the stage of a multi-stage Dockerfile to build; empty
	// builds the last.
	Target string `json:",omitempty"`
	// Push sends the tags to the registry the run is given.
	Push bool `json:",omitempty"`
	// Pos is where the build key's value is written.
	Pos Pos
}

// notForBuild lists the action keys that configure a script, which a
// build action does not run; inputs applies (default: the context's
// files).
var notForBuild = []string{"env", "outputs", "cache", "cache_key", "secrets", "sidecars", "matrix", "image", "user", "memory", "cpu"}

// imageName is a repository name as Docker accepts it: lowercase
// components separated by "/", each of letters and digits joined by
// ".", "_", "__" or dashes.
var imageName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*$`)
})

// imageTag is a tag as Docker accepts it.
var imageTag = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
})

// build reads a build key: a mapping, or a string that is the context.
func (d *decoder) build(v ast.Node, path string) *Build {
	v = d.resolve(v)
	b := &Build{Context: ".", Dockerfile: "Dockerfile", Pos: posOf(v)}
	if isNull(v) {
		d.c.add(posOf(v), path, `must not be empty (write "build: ." for the Dockerfile at the workspace's root)`)
		return b
	}
	if s, ok := scalarText(v); ok {
		b.Context = d.buildDir(v, s, path)
		return b
	}
	if _, ok := v.(*ast.MappingNode); !ok {
		d.c.add(posOf(v), path, "must be a mapping such as {context: ., dockerfile: Dockerfile, tags: [team/app]} or the context directory, got %s", kindOf(v))
		return b
	}
	d.mapping(v, path, fields{
		"context": func(v ast.Node) {
			if s, ok := d.str(v, join(path, "context")); ok {
				b.Context = d.buildDir(v, s, join(path, "context"))
			}
		},
		"dockerfile": func(v ast.Node) {
			if s, ok := d.str(v, join(path, "dockerfile")); ok {
				b.Dockerfile = s
			}
		},
		"tags":   func(v ast.Node) { b.Tags = d.imageTags(v, join(path, "tags")) },
		"args":   func(v ast.Node) { b.Args = d.env(v, join(path, "args")) },
		"target": func(v ast.Node) { b.Target, _ = d.str(v, join(path, "target")) },
		"push":   func(v ast.Node) { b.Push = d.boolean(v, join(path, "push")) },
	})
	d.checkDockerfile(v, b, path)
	return b
}

// buildDir checks a context directory: inside the workspace, "." for the
// workspace itself.
func (d *decoder) buildDir(v ast.Node, s, at string) string {
	if strings.TrimSpace(s) == "" {
		d.c.add(posOf(v), at, `must not be empty (write "." for the whole workspace)`)
		return "."
	}
	if strings.TrimSpace(s) == "." {
		return "."
	}
	clean, problem := checkPath(s, false)
	if problem != "" {
		d.c.add(posOf(v), at, "%s", problem)
		return "."
	}
	return clean
}

// checkDockerfile checks that the Dockerfile, relative to the context,
// stays in the workspace.
func (d *decoder) checkDockerfile(v ast.Node, b *Build, at string) {
	where := posOf(v)
	if m, ok := v.(*ast.MappingNode); ok {
		for _, mv := range m.Values {
			if keyText(mv.Key) == "dockerfile" {
				where = posOf(mv.Value)
			}
		}
	}
	at = join(at, "dockerfile")
	switch f := b.Dockerfile; {
	case strings.TrimSpace(f) == "":
		d.c.add(where, at, `must not be empty (leave it out for "Dockerfile" in the context)`)
	case path.IsAbs(f):
		d.c.add(where, at, "%q is absolute; the Dockerfile is named relative to the context", f)
	case strings.HasPrefix(path.Join(b.Context, f), ".."):
		d.c.add(where, at, "%q leaves the workspace (the path is relative to the context %q)", f, b.Context)
	default:
		b.Dockerfile = path.Clean(f)
	}
}

// imageTags reads tags: a list of NAME or NAME:TAG.
func (d *decoder) imageTags(v ast.Node, at string) []string {
	if isNull(v) {
		return nil
	}
	var items []ast.Node
	switch v := v.(type) {
	case *ast.SequenceNode:
		items = v.Values
	default:
		items = []ast.Node{v}
	}
	var tags []string
	seen := map[string]bool{}
	for _, item := range items {
		item = d.resolve(item)
		s, ok := scalarText(item)
		if !ok {
			d.c.add(posOf(item), at, "each entry must be an image name such as team/app or team/app:1.2, got %s", kindOf(item))
			continue
		}
		name, tag := splitTag(s)
		first, _, nested := strings.Cut(name, "/")
		switch {
		case nested && (strings.ContainsAny(first, ".:") || first == "localhost"):
			// Docker reads such a first part as a registry; pushes go to
			// the run's registry, which the tag must not contradict.
			d.c.add(posOf(item), at, "%q names a registry (%s); tags name the image alone, and push: true sends it to the run's registry", s, first)
		case !imageName().MatchString(name):
			d.c.add(posOf(item), at, "%q is not an image name (lowercase letters, digits, and . _ - between them, / between parts, e.g. team/app:1.2)", s)
		case tag != "" && !imageTag().MatchString(tag):
			d.c.add(posOf(item), at, "%q: the tag %q may use letters, digits, _ . and - (not first), at most 128", s, tag)
		case !nested:
			// A bare name is an official image's on Docker Hub (alpine,
			// golang): tagging a build so would replace, in a shared
			// engine, the image other actions and services pull by it.
			d.c.add(posOf(item), at, "%q has no namespace: a build tagged like an official image (alpine, golang) would replace it for every pipeline on the engine; write TEAM/%s", s, s)
		case seen[s]:
			d.c.add(posOf(item), at, "%q is listed twice", s)
		default:
			seen[s] = true
			tags = append(tags, s)
		}
	}
	return tags
}

// splitTag splits NAME:TAG; a colon before a "/" ("host:5000/app") is
// not a tag's.
func splitTag(ref string) (name, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i+1:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// SplitImageTag splits an image reference written in a build's tags into
// its name and its tag ("" when none is written).
func SplitImageTag(ref string) (name, tag string) { return splitTag(ref) }

// checkBuildKeys refuses a script's keys on a build action.
func (d *decoder) checkBuildKeys(path string, keys map[string]Pos) {
	if _, set := keys["build"]; !set {
		return
	}
	for _, k := range notForBuild {
		if at, set := keys[k]; set {
			why := "a build action runs no script"
			if k == "env" {
				why = "pass values to the Dockerfile with build.args"
			}
			d.c.add(at, path, "%s does not apply to a build action; %s", k, why)
		}
	}
}
