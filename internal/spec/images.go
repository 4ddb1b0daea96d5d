package spec

import (
	"regexp"
	"sync"

	"github.com/goccy/go-yaml/ast"
)

// This file reads the keys that run actions and sidecars in container
// images: image, user, and a sidecar's port.

// HostImage is the value of an action's image key that runs it on the
// host although the pipeline names a default image.
const HostImage = "host"

// RunsIn returns the image the action's script runs in, "" for the
// host: its own image, else the pipeline's default, unless it says
// `image: host`.
func (p *Pipeline) RunsIn(a *Action) string {
	switch a.Image {
	case HostImage:
		return ""
	case "":
		return p.Image
	}
	return a.Image
}

// imageRef accepts what an engine accepts as an image reference:
// registry/path:tag or @digest, without spaces or shell characters.
var imageRef = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)
})

// image reads an image reference; host is whether `image: host` (run on
// the host) is allowed there.
func (d *decoder) image(v ast.Node, path string, host bool) string {
	s := d.run(v, path)
	switch {
	case s == "":
	case s == HostImage && !host:
		d.c.add(posOf(v), path, `"host" is not an image; leave image out to run on the host`)
		return ""
	case !imageRef().MatchString(s):
		d.c.add(posOf(v), path, "%q is not an image reference (like alpine:3.20 or registry.example.com/team/tool@sha256:...)", s)
		return ""
	}
	return s
}

// defaultImage reads the top-level image, the default of every script
// action.
func (d *decoder) defaultImage(v ast.Node, path string) (string, Pos) {
	s := d.image(v, path, true)
	if s == HostImage {
		d.c.add(posOf(v), path, `actions run on the host when there is no default image; leave image out instead of "host"`)
		return "", Pos{}
	}
	return s, posOf(v)
}

// userRef is NAME or UID, with an optional :GROUP or :GID.
var userRef = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$`)
})

func (d *decoder) user(v ast.Node, path string) string {
	s := d.run(v, path)
	if s != "" && !userRef().MatchString(s) {
		d.c.add(posOf(v), path, "%q is not a user (write a name or uid, with :group or :gid if needed, like 1000:1000)", s)
		return ""
	}
	return s
}

// port reads the port a sidecar's container listens on.
func (d *decoder) port(v ast.Node, path string) int {
	n, _ := d.intIn(v, path, 1, 65535)
	return n
}

// checkSidecarImage relates a sidecar's run, image and port.
func (d *decoder) checkSidecarImage(v ast.Node, path string, has map[string]Pos, sc *Sidecar) {
	_, image := has["image"]
	_, run := has["run"]
	portAt, port := has["port"]
	switch {
	case !image && !run:
		d.c.add(posOf(v), path, "missing required key %q", "run")
	case image && !port:
		d.c.add(posOf(v), path, "missing required key %q: the port the image's program listens on, for readiness and %s", "port", sidecarVars(sc.Name)[1])
	case !image && port:
		d.c.add(portAt, join(path, "port"), "port only applies to sidecars with image:; a host sidecar listens on $PORT, which Velocity picks")
	}
}

// checkUsers reports user: on actions that run on the host, which runs
// every script as Velocity's own user; known only once the top-level
// image is read, whatever the order of the keys.
func (d *decoder) checkUsers(p *Pipeline, src *pipelineSource) {
	for si := range p.Stages {
		if si >= len(src.stages) {
			break
		}
		lists := stageLists(&p.Stages[si])
		for l, actions := range lists {
			for ai := range actions {
				if ai >= len(src.stages[si].lists[l]) {
					break
				}
				a, as := &actions[ai], src.stages[si].lists[l][ai]
				if a.User != "" && a.Run != "" && p.RunsIn(a) == "" {
					d.c.add(as.user, join(as.path, "user"), "user only applies to actions that run in an image (set image: on the action or at the top level)")
				}
				if as.limit != (Pos{}) && a.Run != "" && p.RunsIn(a) == "" {
					// A host script's processes share Velocity's cgroup
					// (no delegation is assumed), so a cap there would
					// be a promise not kept.
					d.c.add(as.limit, join(as.path, as.limitKey), "memory and cpu only apply to actions that run in an image, whose container is capped (set image: on the action or at the top level)")
				}
			}
		}
	}
}
