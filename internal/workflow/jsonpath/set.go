package jsonpath

import "github.com/velocity-ci/velocity/internal/workflow/jsonvalue"

// Set returns doc with value placed at ref, the way ResultPath combines a
// state's input with its result: "$" gives value itself; otherwise doc is
// copied along the path (only the objects and arrays on the way; doc itself
// is never modified) and missing objects are created. A path through a
// value that is not an object, or an index past the end of an array, is a
// *MatchError wrapping ErrNoMatch, worded like Step Functions'
// States.ResultPathMatchFailure cause.
func Set(doc any, ref *Path, value any) (any, error) {
	if ref.variable != "" {
		return nil, &MatchError{Path: ref.src, Detail: "Unable to apply ReferencePath " + ref.src + ": a variable is set with Assign, not written through a path"}
	}
	if ref.context {
		return nil, &MatchError{Path: ref.src, Detail: "Unable to apply ReferencePath " + ref.src + " to the context object: it is read-only"}
	}
	if !ref.definite || ref.length {
		return nil, &MatchError{Path: ref.src, Detail: "Unable to apply " + ref.src + ": it is not a reference path"}
	}
	out, ok := set(doc, true, ref.segs, value)
	if !ok {
		return nil, &MatchError{Path: ref.src, Detail: "Unable to apply ReferencePath " + ref.src + " to input " + compact(doc)}
	}
	return out, nil
}

// set writes value at segs below node; present is false when node is a
// missing object member, which becomes a new object. A new member goes at
// the end of its object and a replaced one keeps its place, as Step
// Functions writes them.
func set(node any, present bool, segs []segment, value any) (any, bool) {
	if len(segs) == 0 {
		return value, true
	}
	s := &segs[0]
	switch s.kind {
	case segName:
		var m *jsonvalue.Object
		if present {
			var ok bool
			if m, ok = node.(*jsonvalue.Object); !ok {
				return nil, false
			}
		}
		child, has := m.Get(s.name)
		v, ok := set(child, has, segs[1:], value)
		if !ok {
			return nil, false
		}
		var cp *jsonvalue.Object
		if m == nil {
			cp = jsonvalue.NewObject(1)
		} else {
			cp = m.Clone()
		}
		cp.Set(s.name, v)
		return cp, true
	case segIndex:
		a, ok := node.([]any)
		if !present || !ok || s.index < 0 || s.index >= len(a) {
			return nil, false
		}
		v, ok := set(a[s.index], true, segs[1:], value)
		if !ok {
			return nil, false
		}
		cp := make([]any, len(a))
		copy(cp, a)
		cp[s.index] = v
		return cp, true
	}
	return nil, false
}
