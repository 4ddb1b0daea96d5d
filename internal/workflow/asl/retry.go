package asl

import (
	"math"
	"slices"
	"strings"

	"github.com/velocity-ci/velocity/internal/typo"
)

// retry checks a state's Retry: retriers with ErrorEquals and delays.
func (v *validator) retry(n *node, ptr string) {
	if !v.array(n, ptr) {
		return
	}
	for i, r := range n.items {
		p := pointerIndex(ptr, i)
		if !v.object(r, p) {
			continue
		}
		v.knownFields(r, p, retrierFields, nil)
		v.errorEquals(r, p, i == len(n.items)-1, "Retrier")
		for _, f := range r.fields {
			fp := pointerJoin(p, f.key)
			switch f.key {
			case "IntervalSeconds":
				v.integer(f.value, fp, 1, maxSeconds)
			case "MaxAttempts":
				v.integer(f.value, fp, 0, maxSeconds)
			case "BackoffRate":
				v.number(f.value, fp, 1, math.Inf(1))
			case "MaxDelaySeconds":
				// AWS: greater than 0 and less than 31622401 (a year and a day).
				v.integer(f.value, fp, 1, 31622400)
			case "JitterStrategy":
				v.enum(f.value, fp, "FULL", "NONE")
			case "Comment":
				v.str(f.value, fp)
			}
		}
	}
}

// catch checks a state's Catch: catchers with ErrorEquals and Next.
func (v *validator) catch(sc *scope, name string, n *node, ptr string) {
	if !v.array(n, ptr) {
		return
	}
	for i, c := range n.items {
		p := pointerIndex(ptr, i)
		if !v.object(c, p) {
			continue
		}
		if v.lang == JSONata {
			v.jsonataCatcher(sc, name, c, p, i == len(n.items)-1)
			continue
		}
		v.knownFields(c, p, catcherFields, nil)
		v.errorEquals(c, p, i == len(n.items)-1, "Catcher")
		for _, f := range c.fields {
			fp := pointerJoin(p, f.key)
			switch f.key {
			case "Assign":
				v.assign(f.value, fp)
			case "Next":
				v.transition(sc, name, f.value, fp)
			case "ResultPath":
				if f.value.kind != kindNull {
					v.reference(f.value, fp, false)
				}
			case "Comment":
				v.str(f.value, fp)
			}
		}
		if c.get("Next") == nil {
			v.r.add(c.pos, p, `missing required field "Next" (the state to move to when the error is caught)`)
		}
	}
}

// errorEquals checks the ErrorEquals of a Retrier or Catcher: a
// non-empty array of error names, with States.ALL alone and only in the
// last entry; an unknown name in the "States." prefix is a warning.
func (v *validator) errorEquals(n *node, ptr string, last bool, what string) {
	f := n.field("ErrorEquals")
	if f == nil {
		v.r.add(n.pos, ptr, `missing required field "ErrorEquals" (the error names this %s handles)`, strings.ToLower(what))
		return
	}
	p := pointerJoin(ptr, "ErrorEquals")
	if !v.array(f.value, p) {
		return
	}
	if len(f.value.items) == 0 {
		v.r.add(f.value.pos, p, "must name at least one error")
		return
	}
	known := make([]string, 0, len(knownErrorNames))
	for name := range knownErrorNames {
		known = append(known, name)
	}
	slices.Sort(known)
	for i, it := range f.value.items {
		ip := pointerIndex(p, i)
		name, ok := v.nonEmpty(it, ip)
		if !ok {
			continue
		}
		switch {
		case name == ErrAll && len(f.value.items) > 1:
			v.r.add(it.pos, ip, "States.ALL must be the only name in its ErrorEquals")
		case name == ErrAll && !last:
			v.r.add(it.pos, ip, "a %s with States.ALL must be the last one", what)
		case strings.HasPrefix(name, "States.") && !knownErrorNames[name]:
			// Step Functions accepts any name here: a Fail state may
			// raise a "States."-prefixed name of its own (published
			// samples catch "States.QuorumMet"). A typo of a predefined
			// name would never match, hence the warning.
			v.r.warn(it.pos, ip, "error name %q is not a predefined error%s; it matches only a Fail state or task that raises exactly this name", name, typo.DidYouMean(name, known))
		}
	}
}
