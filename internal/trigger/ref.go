package trigger

import (
	"strings"

	"github.com/velocity-ci/velocity/internal/fault"
)

// checkRef applies git's rules for ref names (git-check-ref-format) to a
// full ref, so a ref from a payload is one git itself would accept and
// carries nothing a log line or a command could misread.
func checkRef(ref string) error {
	return refRules(ref, func(why string) error { return fault.Invalidf("ref %q is not a valid git ref: %s", clip(ref), why) })
}

// refRules applies the rules to ref, reporting a broken one through bad.
func refRules(ref string, bad func(why string) error) error {
	switch {
	case ref == "":
		return fault.Invalidf("ref is missing")
	case len(ref) > maxRef:
		return fault.Invalidf("ref is longer than %d bytes", maxRef)
	case !strings.HasPrefix(ref, "refs/"):
		return bad(`it does not start with "refs/"`)
	case strings.HasSuffix(ref, "/"), strings.HasSuffix(ref, "."):
		return bad(`it ends with "/" or "."`)
	case strings.Contains(ref, ".."):
		return bad(`it contains ".."`)
	case strings.Contains(ref, "@{"):
		return bad(`it contains "@{"`)
	}
	for i := range len(ref) {
		c := ref[i]
		if c < 0x20 || c == 0x7f {
			return bad("it contains a control character")
		}
		if strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return bad("it contains one of space ~ ^ : ? * [ \\")
		}
	}
	if !printable(ref) {
		return bad("it is not UTF-8 text")
	}
	for part := range strings.SplitSeq(ref, "/") {
		switch {
		case part == "":
			return bad("it has an empty component (//)")
		case strings.HasPrefix(part, "."):
			return bad(`a component starts with "."`)
		case strings.HasSuffix(part, ".lock"):
			return bad(`a component ends with ".lock"`)
		}
	}
	return nil
}

// CheckBranch reports whether name is a branch name git accepts (the
// part after refs/heads/); the error is Invalid and says why.
func CheckBranch(name string) error {
	if name == "" {
		return fault.Invalidf("branch name is empty")
	}
	return refRules("refs/heads/"+name, func(why string) error {
		return fault.Invalidf("%q is not a valid branch name: %s", clip(name), why)
	})
}
