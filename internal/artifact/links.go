package artifact

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxLinkHops bounds how many symlinks checkLink resolves for one target,
// like the kernel's ELOOP limit (40 on Linux): a cycle leads nowhere, so
// it cannot lead outside either, and storing it is harmless.
const maxLinkHops = 40

// linkChecker decides which symlinks of a workspace may be stored as
// outputs. An output is restored somewhere else (a later run's workspace,
// a release directory, `velocity artifacts --to`), so a link must mean the
// same thing there:
//
//   - a relative target that stays inside the workspace is kept as is;
//   - a relative target that climbs out of the workspace (possibly through
//     other links) is refused: elsewhere it would point at whatever lies
//     next to the restored tree;
//   - an absolute target inside the workspace is refused: it names this
//     workspace, not the place the output is restored to;
//   - an absolute target outside the workspace is kept verbatim. It names
//     a file of the system, such as the interpreter a Python virtualenv
//     links to (.venv/bin/python3 -> /usr/bin/python3), which is where it
//     was, wherever the output is restored. Refusing those would make
//     virtualenvs impossible to cache or deploy.
//
// None of this follows a link to read or write through it: targets are
// strings, hashed as such, and Restore never writes beneath a symlink.
// The check is about links meaning the same after a restore, not about
// confinement, which Restore enforces on its own.
type linkChecker struct {
	root *os.Root
	// workspace is root as an absolute path, and resolved through
	// symlinks if that differs (/tmp may be a link), for recognising
	// absolute targets inside it.
	workspace []string
}

func newLinkChecker(r *os.Root, root string) *linkChecker {
	c := &linkChecker{root: r}
	if abs, err := filepath.Abs(root); err == nil {
		c.workspace = append(c.workspace, abs)
		if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
			c.workspace = append(c.workspace, real)
		}
	}
	return c
}

// check returns an error wrapping ErrUnsafePath if the link at name (a
// slash path in the workspace) with the given target may not be stored.
func (c *linkChecker) check(name, target string) error {
	if filepath.IsAbs(target) {
		clean := filepath.Clean(target)
		for _, ws := range c.workspace {
			if rel, ok := within(ws, clean); ok {
				return fmt.Errorf("output %s is a symlink to %s, an absolute path into the workspace (%w): restored "+
					"elsewhere it would still point here. Make it relative: ln -sr, or ln -s %s", name, target, ErrUnsafePath, relTarget(name, rel))
			}
		}
		return nil
	}
	if c.escapes(name, target) {
		return fmt.Errorf("output %s is a symlink to %s, which leads outside the workspace (%w): restored elsewhere it "+
			"would point at something else. Point it inside the workspace, at an absolute system path "+
			"(such as /usr/bin/python3), or copy the file into the output", name, target, ErrUnsafePath)
	}
	return nil
}

// within reports whether p is dir or beneath it, and p relative to dir.
func within(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// relTarget is the relative target that would replace an absolute one
// naming to (a slash path in the workspace), for the link at name.
func relTarget(name, to string) string {
	rel, err := filepath.Rel(path.Dir(name), to)
	if err != nil {
		return to
	}
	return filepath.ToSlash(rel) + " " + name
}

// escapes resolves target from the link's directory the way the kernel
// would, one element at a time, replacing links of the workspace by their
// targets, and reports whether it ever climbs above the workspace. A
// missing element is judged by the rest of the path alone, since the link
// may point at something an other output provides. An absolute link on
// the way ends the walk: where it leads is judged where it is stored.
func (c *linkChecker) escapes(name, target string) bool {
	var cur []string // the resolved directory so far, elements of real directories
	if dir := path.Dir(name); dir != "." {
		cur = strings.Split(dir, "/")
	}
	rest := strings.Split(target, "/")
	for hops := 0; len(rest) > 0; {
		elem := rest[0]
		rest = rest[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return true
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, elem)
		p := strings.Join(cur, "/")
		fi, err := c.root.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		next, err := c.root.Readlink(p)
		if hops++; err != nil || hops > maxLinkHops || path.IsAbs(next) {
			return false
		}
		cur = cur[:len(cur)-1]
		rest = append(strings.Split(next, "/"), rest...)
	}
	return false
}
