package asl

import (
	"regexp"
	"strings"
	"sync"
)

// This file checks the scoping of workflow variables as the developer
// guide states it ("Passing data between states with variables",
// Variable scope): a variable exists in the scope (the top level, a
// Parallel branch, a Map's processor) whose states assign it; an inner
// scope reads the variables of the scopes around it but cannot assign a
// name one of them assigns; a Distributed Map's processor reads none of
// them.

// variableRef finds the $name references in a path or intrinsic call,
// leaving out $$ (the context object) and $. or $[ (the input).
var variableRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:^|[^$\p{L}\p{N}_])\$([\p{L}_][\p{L}\p{N}_]*)`) })

// pathFields hold a path (or a reference path) as their value.
var pathFields = map[string]bool{
	"InputPath": true, "OutputPath": true, "ItemsPath": true, "Variable": true,
	"ErrorPath": true, "CausePath": true, "SecondsPath": true, "TimestampPath": true,
	"TimeoutSecondsPath": true, "HeartbeatSecondsPath": true, "MaxConcurrencyPath": true,
	"ToleratedFailurePercentagePath": true, "ToleratedFailureCountPath": true,
	"MaxItemsPath": true, "MaxItemsPerBatchPath": true, "MaxInputBytesPerBatchPath": true,
}

// varScope is the names one machine assigns, with where each was first
// assigned.
type varScope map[string]pos

// checkVariables reports an inner scope assigning an outer scope's
// variable (an error: AWS refuses it) and a reference to a variable no
// visible scope assigns (a warning: the reference fails when the state
// runs, unless another definition is meant).
func checkVariables(r *report, root *node) {
	checkMachineVariables(r, root, "", nil)
}

func checkMachineVariables(r *report, m *node, ptr string, outer []varScope) {
	states := m.get("States")
	if states == nil || states.kind != kindObject {
		return
	}
	own := varScope{}
	for _, sf := range states.fields {
		sp := pointerJoin(pointerJoin(ptr, "States"), sf.key)
		forEachAssign(sf.value, sp, func(f *field, fp string) {
			name := strings.TrimSuffix(f.key, ".$")
			for _, o := range outer {
				if at, ok := o[name]; ok {
					r.add(f.keyPos, fp, "the variable %q is assigned in an enclosing scope (line %d); a Map processor or Parallel branch may read it but not assign it", name, at.line)
					return
				}
			}
			if _, ok := own[name]; !ok {
				own[name] = f.keyPos
			}
		})
	}
	visible := append([]varScope{own}, outer...)
	for _, sf := range states.fields {
		st := sf.value
		sp := pointerJoin(pointerJoin(ptr, "States"), sf.key)
		if st.kind != kindObject {
			continue
		}
		for _, f := range st.fields {
			fp := pointerJoin(sp, f.key)
			switch f.key {
			case "Branches":
				for i, b := range f.value.items {
					checkMachineVariables(r, b, pointerIndex(fp, i), visible)
				}
			case "ItemProcessor", "Iterator":
				inner := visible
				if mode := f.value.get("ProcessorConfig").get("Mode"); mode != nil && mode.text == "DISTRIBUTED" {
					// Step Functions: a Distributed Map's child
					// workflows cannot read the variables of outer scopes.
					inner = nil
				}
				checkMachineVariables(r, f.value, fp, inner)
			case "Result":
				// A Pass state's Result is data, not a template.
			default:
				checkReferences(r, f.key, f.value, fp, visible)
			}
		}
	}
}

// forEachAssign calls fn for each variable a state assigns: in its own
// Assign, its Catchers' and its top-level Choice rules'.
func forEachAssign(st *node, ptr string, fn func(f *field, fp string)) {
	each := func(a *node, ap string) {
		if a == nil || a.kind != kindObject {
			return
		}
		for _, f := range a.fields {
			fn(f, pointerJoin(ap, f.key))
		}
	}
	each(st.get("Assign"), pointerJoin(ptr, "Assign"))
	for _, key := range []string{"Catch", "Choices"} {
		if l := st.get(key); l != nil {
			for i, it := range l.items {
				ip := pointerIndex(pointerJoin(ptr, key), i)
				each(it.get("Assign"), pointerJoin(ip, "Assign"))
			}
		}
	}
}

// checkReferences warns of each $name in the paths below n that no
// visible scope assigns.
func checkReferences(r *report, key string, n *node, ptr string, visible []varScope) {
	switch n.kind {
	case kindString:
		if !strings.HasSuffix(key, ".$") && !pathFields[key] {
			return
		}
		for _, m := range variableRef().FindAllStringSubmatch(n.text, -1) {
			name := m[1]
			found := false
			for _, s := range visible {
				if _, ok := s[name]; ok {
					found = true
					break
				}
			}
			if !found {
				r.warn(n.pos, ptr, "the variable $%s is not assigned in this scope or an enclosing one; reading it fails when the state runs", name)
			}
		}
	case kindObject:
		for _, f := range n.fields {
			checkReferences(r, f.key, f.value, pointerJoin(ptr, f.key), visible)
		}
	case kindArray:
		for i, it := range n.items {
			checkReferences(r, key, it, pointerIndex(ptr, i), visible)
		}
	}
}
