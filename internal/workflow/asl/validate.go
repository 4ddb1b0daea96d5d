package asl

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/velocity-ci/velocity/internal/typo"
)

// Validate checks a definition in JSON or YAML against every rule of the
// Amazon States Language and AWS's documented limits, and returns all the
// problems sorted by position (nil when there are none). file names the
// source in the messages.
func Validate(file string, src []byte) []Error {
	r := &report{file: file}
	if root := parseSource(r, src); root != nil {
		validateTree(r, root)
	}
	return r.sorted()
}

// ValidateWithWarnings is Validate that also returns the warnings: what
// Step Functions accepts but is most likely a mistake (a key written
// twice, an unknown "States." error name, a variable no scope assigns),
// for surfaces such as ValidateStateMachineDefinition that report both.
func ValidateWithWarnings(file string, src []byte) (errs, warnings []Error) {
	r := &report{file: file}
	if root := parseSource(r, src); root != nil {
		validateTree(r, root)
	}
	return r.sorted(), r.warns
}

// validateTree adds the problems of a parsed definition to r.
func validateTree(r *report, root *node) {
	v := &validator{r: r, names: map[string]pos{}, labels: map[string]pos{}}
	v.machine(root, "", machineTop)
	v.transitions()
	checkVariables(r, root)
}

// validator carries what the checks of one definition share.
type validator struct {
	r *report
	// topLang is the top level's QueryLanguage, which states inherit.
	topLang string
	// lang is the query language of the state being checked.
	lang string
	// names holds every state name of the definition with where it was
	// first defined: names are unique across branches and processors too.
	names map[string]pos
	// labels holds the Label of every Map, which AWS requires unique.
	labels map[string]pos
	// scopes are the state machines found (top level, branches,
	// processors), checked for transitions once all names are known.
	scopes []*scope
}

// machineKind says where a state machine object sits.
type machineKind int

const (
	machineTop machineKind = iota
	machineBranch
	machineProcessor
	machineIterator
)

// machine checks a state machine object: the top level, a Parallel
// branch or a Map's ItemProcessor (Iterator).
func (v *validator) machine(n *node, ptr string, kind machineKind) {
	if !v.object(n, ptr) {
		return
	}
	allowed := topFields
	switch kind {
	case machineBranch, machineIterator:
		allowed = branchFields
	case machineProcessor:
		allowed = processorFields
	}
	v.knownFields(n, ptr, allowed, func(key string) string {
		switch {
		case kind != machineTop && slices.Contains(topFields, key):
			return "field " + quote(key) + " is allowed only at the top level of a definition"
		case key == "ProcessorConfig":
			return `field "ProcessorConfig" is allowed only in a Map's ItemProcessor`
		}
		return ""
	})
	if q := n.get("QueryLanguage"); kind == machineTop && q != nil && q.kind == kindString && q.text == JSONata {
		v.topLang = JSONata
	}
	sc := &scope{ptr: ptr, edges: map[string][]edge{}}
	for _, f := range n.fields {
		p := pointerJoin(ptr, f.key)
		switch f.key {
		case "Comment":
			v.str(f.value, p)
		case "Version":
			if s, ok := v.str(f.value, p); ok && s != "1.0" {
				v.r.add(f.value.pos, p, `must be "1.0", the only version of the States Language, got %q`, s)
			}
		case "TimeoutSeconds":
			v.integer(f.value, p, 1, maxSeconds)
		case "QueryLanguage":
			v.queryLanguage(f.value, p)
		case "ProcessorConfig":
			if kind == machineProcessor {
				v.processorConfig(f.value, p)
			}
		case "StartAt":
			if _, ok := v.nonEmpty(f.value, p); ok {
				sc.startAt = f.value
			}
		case "States":
			if v.object(f.value, p) {
				sc.states = f.value
			}
		}
	}
	if n.get("StartAt") == nil {
		v.r.add(n.pos, ptr, `missing required field "StartAt" (the name of the first state)`)
	}
	if n.get("States") == nil {
		v.r.add(n.pos, ptr, `missing required field "States"`)
	}
	if sc.states == nil {
		return
	}
	statesPtr := pointerJoin(ptr, "States")
	if len(sc.states.fields) == 0 {
		v.r.add(sc.states.pos, statesPtr, "must hold at least one state")
		return
	}
	v.scopes = append(v.scopes, sc)
	for _, f := range sc.states.fields {
		v.state(sc, f, pointerJoin(statesPtr, f.key))
	}
}

// maxSeconds is AWS's bound on every duration field.
const maxSeconds = 99999999

func (v *validator) queryLanguage(n *node, ptr string) {
	s, ok := v.str(n, ptr)
	switch {
	case !ok || s == "JSONPath":
	case s == "JSONata":
	default:
		v.r.add(n.pos, ptr, `must be "JSONPath" or "JSONata", got %q%s`, s, typo.DidYouMean(s, []string{"JSONPath", "JSONata"}))
	}
}

func (v *validator) processorConfig(n *node, ptr string) {
	if !v.object(n, ptr) {
		return
	}
	v.knownFields(n, ptr, processorConfigFields, nil)
	mode := "INLINE"
	if m := n.get("Mode"); m != nil {
		mode, _ = v.enum(m, pointerJoin(ptr, "Mode"), "INLINE", "DISTRIBUTED")
	}
	if et := n.get("ExecutionType"); et != nil {
		v.enum(et, pointerJoin(ptr, "ExecutionType"), "STANDARD", "EXPRESS")
	} else if mode == "DISTRIBUTED" {
		v.r.add(n.pos, ptr, `missing required field "ExecutionType" (STANDARD or EXPRESS) for Mode DISTRIBUTED`)
	}
}

// maxStateName is AWS's limit on the length of a state name.
const maxStateName = 80

// state checks one state; f is its member of States.
func (v *validator) state(sc *scope, f *field, ptr string) {
	name, n := f.key, f.value
	switch {
	case name == "":
		v.r.add(f.keyPos, ptr, "a state name must not be empty")
	case utf8.RuneCountInString(name) > maxStateName:
		v.r.add(f.keyPos, ptr, "state name is %d characters long; AWS allows at most %d", utf8.RuneCountInString(name), maxStateName)
	}
	if at, dup := v.names[name]; dup {
		v.r.add(f.keyPos, ptr, "state name %q is already used at line %d; names must be unique in the whole state machine, branches and Map processors included", name, at.line)
	} else {
		v.names[name] = f.keyPos
	}
	if !v.object(n, ptr) {
		sc.unsure = true
		return
	}
	typ := v.stateType(n, ptr)
	if typ == "" {
		sc.unsure = true
		return
	}
	lang := v.stateLanguage(n, ptr)
	if lang == JSONata {
		v.jsonataFieldsOK(n, ptr, typ)
	} else {
		v.knownFields(n, ptr, stateFields[typ], func(key string) string { return stateFieldOwner(typ, key) })
	}
	outer := v.lang
	v.lang = lang
	for _, fl := range n.fields {
		fp := pointerJoin(ptr, fl.key)
		if lang == JSONata {
			if !slices.Contains(jsonataStateFields[typ], fl.key) || v.jsonataField(fl, fp) {
				continue
			}
		} else if !slices.Contains(stateFields[typ], fl.key) {
			continue
		}
		v.stateField(sc, name, typ, fl, fp)
	}
	v.lang = outer
	switch typ {
	case TypeSucceed, TypeFail:
		sc.terminal = true
	case TypePass, TypeTask, TypeWait, TypeParallel, TypeMap:
		v.nextOrEnd(sc, n, ptr)
	}
	switch typ {
	case TypeTask:
		v.require(n, ptr, "Resource", "the URI or ARN of what the task runs")
		if lang != JSONata {
			v.exclusive(n, ptr, "TimeoutSeconds", "TimeoutSecondsPath")
			v.exclusive(n, ptr, "HeartbeatSeconds", "HeartbeatSecondsPath")
		}
		// Two numbers are compared in either language; an expression or a
		// path is known only when the state runs.
		timeout, tok := intValue(n.get("TimeoutSeconds"))
		hb, hok := intValue(n.get("HeartbeatSeconds"))
		inRange := func(i int64) bool { return i > 0 && i <= maxSeconds }
		if tok && hok && inRange(timeout) && inRange(hb) && hb >= timeout {
			p := pointerJoin(ptr, "HeartbeatSeconds")
			v.r.add(n.get("HeartbeatSeconds").pos, p, "HeartbeatSeconds (%d) must be smaller than TimeoutSeconds (%d)", hb, timeout)
		}
	case TypeChoice:
		v.require(n, ptr, "Choices", "an array of rules")
	case TypeWait:
		if lang == JSONata {
			v.exactlyOne(n, ptr, "Seconds", "Timestamp")
			break
		}
		v.exactlyOne(n, ptr, "Seconds", "SecondsPath", "Timestamp", "TimestampPath")
	case TypeFail:
		v.exclusive(n, ptr, "Error", "ErrorPath")
		v.exclusive(n, ptr, "Cause", "CausePath")
	case TypeParallel:
		v.require(n, ptr, "Branches", "an array of state machines")
	case TypeMap:
		v.mapRules(n, ptr)
	}
}

// stateType checks Type and returns it, "" when it is missing or unknown.
func (v *validator) stateType(n *node, ptr string) string {
	t := n.get("Type")
	p := pointerJoin(ptr, "Type")
	if t == nil {
		v.r.add(n.pos, ptr, `missing required field "Type" (one of %s)`, strings.Join(stateTypes, ", "))
		return ""
	}
	s, ok := v.str(t, p)
	if !ok {
		return ""
	}
	if !slices.Contains(stateTypes, s) {
		v.r.add(t.pos, p, "unknown state type %q%s; the types are %s", s, typo.DidYouMean(s, stateTypes), strings.Join(stateTypes, ", "))
		return ""
	}
	return s
}

// stateField checks the value of one field a state of type typ accepts.
func (v *validator) stateField(sc *scope, name, typ string, f *field, ptr string) {
	n := f.value
	switch f.key {
	case "Comment", "Error", "Cause":
		v.str(n, ptr)
	case "QueryLanguage":
		v.queryLanguage(n, ptr)
	case "InputPath", "OutputPath":
		v.nullablePath(n, ptr)
	case "ResultPath":
		if n.kind != kindNull {
			v.reference(n, ptr, false)
		}
	case "Next", "Default":
		v.transition(sc, name, n, ptr)
	case "End":
		v.boolean(n, ptr)
	case "Parameters":
		// A Map's Parameters is the older name of ItemSelector, an object.
		v.template(n, ptr, typ == TypeMap)
	case "ResultSelector", "ItemSelector", "Credentials":
		v.template(n, ptr, true)
	case "Assign":
		v.assign(n, ptr)
	case "Result":
		// Any JSON value; it is not a template.
	case "Resource":
		v.resource(n, ptr)
	case "TimeoutSeconds", "HeartbeatSeconds":
		v.integer(n, ptr, 1, maxSeconds)
	case "Seconds":
		v.integer(n, ptr, 0, maxSeconds)
	case "Timestamp":
		v.timestamp(n, ptr)
	case "TimeoutSecondsPath", "HeartbeatSecondsPath", "SecondsPath", "TimestampPath", "ItemsPath",
		"MaxConcurrencyPath", "ToleratedFailurePercentagePath", "ToleratedFailureCountPath":
		v.reference(n, ptr, true)
	case "ErrorPath", "CausePath":
		v.dynamic(n, ptr)
	case "Retry":
		v.retry(n, ptr)
	case "Catch":
		v.catch(sc, name, n, ptr)
	case "Choices":
		v.choices(sc, name, n, ptr)
	case "Branches":
		if v.array(n, ptr) {
			if len(n.items) == 0 {
				v.r.add(n.pos, ptr, "must hold at least one branch")
			}
			for i, b := range n.items {
				v.machine(b, pointerIndex(ptr, i), machineBranch)
			}
		}
	case "ItemProcessor":
		v.machine(n, ptr, machineProcessor)
	case "Iterator":
		v.machine(n, ptr, machineIterator)
	case "Items":
		v.array(n, ptr)
	case "ItemReader":
		v.itemReader(n, ptr)
	case "ItemBatcher":
		v.itemBatcher(n, ptr)
	case "ResultWriter":
		v.resultWriter(n, ptr)
	case "MaxConcurrency", "ToleratedFailureCount":
		v.integer(n, ptr, 0, maxCount)
	case "ToleratedFailurePercentage":
		v.number(n, ptr, 0, 100)
	case "Label":
		v.label(n, ptr)
	}
}

// maxCount bounds counts (items, concurrency) where AWS sets no lower limit.
const maxCount = 100000000

// resource checks a Task's Resource: a URI, in practice an ARN.
func (v *validator) resource(n *node, ptr string) {
	s, ok := v.nonEmpty(n, ptr)
	if !ok {
		return
	}
	scheme, _, found := strings.Cut(s, ":")
	if !found || scheme == "" || strings.ContainsAny(scheme, " /") {
		v.r.add(n.pos, ptr, "must be a URI such as arn:aws:states:::lambda:invoke, got %q", s)
	}
}

// nextOrEnd checks that a state that is not terminal by type has exactly
// one of Next and "End": true.
func (v *validator) nextOrEnd(sc *scope, n *node, ptr string) {
	next, end := n.get("Next"), n.get("End")
	ends := end != nil && end.kind == kindBool && end.boolean
	switch {
	case next != nil && ends:
		v.r.add(n.field("End").keyPos, pointerJoin(ptr, "End"), `a state has "Next" or "End": true, not both`)
	case next == nil && !ends:
		if end != nil && end.kind != kindBool {
			sc.unsure = true // reported as the wrong type already
			return
		}
		v.r.add(n.pos, ptr, `needs "Next" (the state to move to) or "End": true`)
	}
	if ends {
		sc.terminal = true
	}
}

// require reports a missing field.
func (v *validator) require(n *node, ptr, key, what string) {
	if n.get(key) == nil {
		v.r.add(n.pos, ptr, "missing required field %q (%s)", key, what)
	}
}

// exclusive reports a state that sets both a field and its alternative
// (TimeoutSeconds and TimeoutSecondsPath), at the second one written.
func (v *validator) exclusive(n *node, ptr, a, b string) {
	fa, fb := n.field(a), n.field(b)
	if fa == nil || fb == nil {
		return
	}
	second := fb
	if lessPos(fb.keyPos, fa.keyPos) {
		second = fa
	}
	v.r.add(second.keyPos, pointerJoin(ptr, second.key), "%q and %q cannot both be set; keep one", a, b)
}

// exactlyOne reports none or several of keys.
func (v *validator) exactlyOne(n *node, ptr string, keys ...string) {
	var set []*field
	for _, k := range keys {
		if f := n.field(k); f != nil {
			set = append(set, f)
		}
	}
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = quote(k)
	}
	switch {
	case len(set) == 0:
		v.r.add(n.pos, ptr, "needs exactly one of %s", joinOr(quoted))
	case len(set) > 1:
		slices.SortFunc(set, func(a, b *field) int {
			if lessPos(a.keyPos, b.keyPos) {
				return -1
			}
			return 1
		})
		for _, f := range set[1:] {
			v.r.add(f.keyPos, pointerJoin(ptr, f.key), "%q cannot be set together with %q; use exactly one of %s", f.key, set[0].key, joinOr(quoted))
		}
	}
}

func lessPos(a, b pos) bool {
	return a.line < b.line || (a.line == b.line && a.col < b.col)
}
