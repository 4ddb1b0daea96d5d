package asl

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Decode reads a definition in JSON or YAML into a StateMachine without
// checking it against the States Language: use Load for definitions from
// users. Explicit nulls of InputPath, OutputPath and ResultPath set the
// *Null flags, each ChoiceRule gets its Operator and Value, a Map's
// Iterator becomes its ItemProcessor and its legacy Parameters its
// ItemSelector. Numbers in payload templates keep their exact text. The
// error is Errors when the source cannot be read or a field has the wrong
// type.
func Decode(src []byte) (*StateMachine, error) {
	r := &report{file: "definition"}
	root := parseSource(r, src)
	if root == nil || len(r.errs) > 0 {
		return nil, Errors(r.sorted())
	}
	return decodeTree(r, root)
}

// decodeTree builds the StateMachine of a parsed definition.
func decodeTree(r *report, root *node) (*StateMachine, error) {
	d := &decoder{r: r}
	sm := d.machine(root, "")
	if len(r.errs) > 0 {
		return nil, Errors(r.sorted())
	}
	return sm, nil
}

// decoder fills the definition types from a node tree. It reports only
// what makes a value impossible to store (a string where a number goes);
// every other rule is Validate's.
type decoder struct{ r *report }

func (d *decoder) wrong(n *node, ptr, want string) {
	d.r.add(n.pos, ptr, "must be %s, got %s", want, n.describe())
}

func (d *decoder) object(n *node, ptr string) bool {
	if n.kind != kindObject {
		d.wrong(n, ptr, "an object")
		return false
	}
	return true
}

func (d *decoder) str(n *node, ptr string) string {
	if n == nil {
		return ""
	}
	if n.kind != kindString {
		d.wrong(n, ptr, "a string")
		return ""
	}
	return n.text
}

// strPtr reads an optional path field, telling absent (nil) from null.
func (d *decoder) strPtr(n *node, ptr string) (s *string, null bool) {
	if n == nil {
		return nil, false
	}
	if n.kind == kindNull {
		return nil, true
	}
	v := d.str(n, ptr)
	return &v, false
}

func (d *decoder) boolean(n *node, ptr string) bool {
	if n == nil {
		return false
	}
	if n.kind != kindBool {
		d.wrong(n, ptr, "a boolean")
		return false
	}
	return n.boolean
}

// numOrExpr reads a numeric field of state s, which in a JSONata state
// may be an expression string; that is kept in s.Exprs under key, the
// field's path within the state.
func (d *decoder) numOrExpr(s *State, key string, n *node, ptr string) *int64 {
	if n != nil && n.kind == kindString && strings.HasPrefix(n.text, "{%") {
		if s.Exprs == nil {
			s.Exprs = map[string]string{}
		}
		s.Exprs[key] = n.text
		return nil
	}
	return d.int64p(n, ptr)
}

func (d *decoder) int64p(n *node, ptr string) *int64 {
	if n == nil {
		return nil
	}
	v, ok := intValue(n)
	if !ok {
		d.wrong(n, ptr, "an integer")
		return nil
	}
	return &v
}

func (d *decoder) float64p(n *node, ptr string) *float64 {
	if n == nil {
		return nil
	}
	if n.kind != kindNumber {
		d.wrong(n, ptr, "a number")
		return nil
	}
	v, err := strconv.ParseFloat(n.text, 64)
	if err != nil {
		d.wrong(n, ptr, "a number")
		return nil
	}
	return &v
}

func (d *decoder) stringList(n *node, ptr string) []string {
	if n == nil {
		return nil
	}
	if n.kind != kindArray {
		d.wrong(n, ptr, "an array of strings")
		return nil
	}
	out := make([]string, 0, len(n.items))
	for i, it := range n.items {
		out = append(out, d.str(it, pointerIndex(ptr, i)))
	}
	return out
}

func raw(n *node) json.RawMessage {
	if n == nil {
		return nil
	}
	return n.json()
}

// intValue reads a JSON integer: no fraction, no exponent, within int64.
func intValue(n *node) (int64, bool) {
	if n == nil || n.kind != kindNumber || strings.ContainsAny(n.text, ".eE") {
		return 0, false
	}
	v, err := strconv.ParseInt(n.text, 10, 64)
	return v, err == nil
}

func (d *decoder) machine(n *node, ptr string) *StateMachine {
	if !d.object(n, ptr) {
		return nil
	}
	sm := &StateMachine{
		Comment:       d.str(n.get("Comment"), pointerJoin(ptr, "Comment")),
		StartAt:       d.str(n.get("StartAt"), pointerJoin(ptr, "StartAt")),
		Version:       d.str(n.get("Version"), pointerJoin(ptr, "Version")),
		QueryLanguage: d.str(n.get("QueryLanguage"), pointerJoin(ptr, "QueryLanguage")),
		States:        map[string]*State{},
	}
	sm.TimeoutSeconds = d.int64p(n.get("TimeoutSeconds"), pointerJoin(ptr, "TimeoutSeconds"))
	if pc := n.get("ProcessorConfig"); pc != nil && d.object(pc, pointerJoin(ptr, "ProcessorConfig")) {
		p := pointerJoin(ptr, "ProcessorConfig")
		sm.ProcessorConfig = &ProcessorConfig{
			Mode:          d.str(pc.get("Mode"), pointerJoin(p, "Mode")),
			ExecutionType: d.str(pc.get("ExecutionType"), pointerJoin(p, "ExecutionType")),
		}
	}
	if states := n.get("States"); states != nil && d.object(states, pointerJoin(ptr, "States")) {
		for _, f := range states.fields {
			if s := d.state(f.value, pointerJoin(pointerJoin(ptr, "States"), f.key)); s != nil {
				sm.States[f.key] = s
			}
		}
	}
	return sm
}

func (d *decoder) state(n *node, ptr string) *State {
	if !d.object(n, ptr) {
		return nil
	}
	at := func(key string) (*node, string) { return n.get(key), pointerJoin(ptr, key) }
	s := &State{}
	s.Type = d.str(at("Type"))
	s.Comment = d.str(at("Comment"))
	s.Next = d.str(at("Next"))
	s.End = d.boolean(at("End"))
	s.QueryLanguage = d.str(at("QueryLanguage"))
	s.Arguments = raw(n.get("Arguments"))
	s.Output = raw(n.get("Output"))
	// In a JSONata state a numeric field may be an expression string.
	num := func(key string) *int64 {
		v, p := at(key)
		return d.numOrExpr(s, key, v, p)
	}
	s.InputPath, s.InputPathNull = d.strPtr(at("InputPath"))
	s.OutputPath, s.OutputPathNull = d.strPtr(at("OutputPath"))
	s.ResultPath, s.ResultPathNull = d.strPtr(at("ResultPath"))
	s.Parameters = raw(n.get("Parameters"))
	s.ResultSelector = raw(n.get("ResultSelector"))
	s.Assign = raw(n.get("Assign"))
	s.Result = raw(n.get("Result"))
	s.Resource = d.str(at("Resource"))
	s.TimeoutSeconds = num("TimeoutSeconds")
	s.TimeoutSecondsPath = d.str(at("TimeoutSecondsPath"))
	s.HeartbeatSeconds = num("HeartbeatSeconds")
	s.HeartbeatSecondsPath = d.str(at("HeartbeatSecondsPath"))
	s.Credentials = raw(n.get("Credentials"))
	if v, p := at("Retry"); v != nil {
		s.Retry = d.retry(v, p)
	}
	if v, p := at("Catch"); v != nil {
		s.Catch = d.catch(v, p)
	}
	if v, p := at("Choices"); v != nil {
		if v.kind != kindArray {
			d.wrong(v, p, "an array")
		} else {
			for i, it := range v.items {
				if rule := d.choiceRule(it, pointerIndex(p, i)); rule != nil {
					s.Choices = append(s.Choices, *rule)
				}
			}
		}
	}
	s.Default = d.str(at("Default"))
	s.Seconds = num("Seconds")
	s.SecondsPath = d.str(at("SecondsPath"))
	s.Timestamp = d.str(at("Timestamp"))
	s.TimestampPath = d.str(at("TimestampPath"))
	s.Error = d.str(at("Error"))
	s.ErrorPath = d.str(at("ErrorPath"))
	s.Cause = d.str(at("Cause"))
	s.CausePath = d.str(at("CausePath"))
	if v, p := at("Branches"); v != nil {
		if v.kind != kindArray {
			d.wrong(v, p, "an array")
		} else {
			for i, it := range v.items {
				if b := d.machine(it, pointerIndex(p, i)); b != nil {
					s.Branches = append(s.Branches, b)
				}
			}
		}
	}
	if v, p := at("ItemProcessor"); v != nil {
		s.ItemProcessor = d.machine(v, p)
	}
	if v, p := at("Iterator"); v != nil {
		s.Iterator = d.machine(v, p)
	}
	s.ItemsPath, _ = d.strPtr(at("ItemsPath"))
	s.Items = raw(n.get("Items"))
	s.ItemSelector = raw(n.get("ItemSelector"))
	if v, p := at("ItemReader"); v != nil {
		s.ItemReader = d.itemReader(v, p)
		if rc := v.get("ReaderConfig"); rc != nil && rc.kind == kindObject && s.ItemReader.ReaderConfig != nil {
			s.ItemReader.ReaderConfig.MaxItems = d.numOrExpr(s, "ItemReader/ReaderConfig/MaxItems", rc.get("MaxItems"),
				pointerJoin(pointerJoin(p, "ReaderConfig"), "MaxItems"))
		}
	}
	if v, p := at("ItemBatcher"); v != nil && d.object(v, p) {
		s.ItemBatcher = &ItemBatcher{
			MaxItemsPerBatch:          d.numOrExpr(s, "ItemBatcher/MaxItemsPerBatch", v.get("MaxItemsPerBatch"), pointerJoin(p, "MaxItemsPerBatch")),
			MaxItemsPerBatchPath:      d.str(v.get("MaxItemsPerBatchPath"), pointerJoin(p, "MaxItemsPerBatchPath")),
			MaxInputBytesPerBatch:     d.numOrExpr(s, "ItemBatcher/MaxInputBytesPerBatch", v.get("MaxInputBytesPerBatch"), pointerJoin(p, "MaxInputBytesPerBatch")),
			MaxInputBytesPerBatchPath: d.str(v.get("MaxInputBytesPerBatchPath"), pointerJoin(p, "MaxInputBytesPerBatchPath")),
			BatchInput:                raw(v.get("BatchInput")),
		}
	}
	s.ResultWriter = raw(n.get("ResultWriter"))
	s.MaxConcurrency = num("MaxConcurrency")
	s.MaxConcurrencyPath = d.str(at("MaxConcurrencyPath"))
	if v, _ := at("ToleratedFailurePercentage"); v != nil && v.kind == kindString && strings.HasPrefix(v.text, "{%") {
		num("ToleratedFailurePercentage")
	} else {
		s.ToleratedFailurePercentage = d.float64p(at("ToleratedFailurePercentage"))
	}
	s.ToleratedFailurePercentagePath = d.str(at("ToleratedFailurePercentagePath"))
	s.ToleratedFailureCount = num("ToleratedFailureCount")
	s.ToleratedFailureCountPath = d.str(at("ToleratedFailureCountPath"))
	s.Label = d.str(at("Label"))

	if s.Type == TypeMap {
		// The interpreter reads only the current names.
		if s.ItemProcessor == nil {
			s.ItemProcessor, s.Iterator = s.Iterator, nil
		}
		if s.ItemSelector == nil {
			s.ItemSelector, s.Parameters = s.Parameters, nil
		}
	}
	return s
}

func (d *decoder) retry(n *node, ptr string) []Retrier {
	if n.kind != kindArray {
		d.wrong(n, ptr, "an array")
		return nil
	}
	var out []Retrier
	for i, it := range n.items {
		p := pointerIndex(ptr, i)
		if !d.object(it, p) {
			continue
		}
		out = append(out, Retrier{
			ErrorEquals:     d.stringList(it.get("ErrorEquals"), pointerJoin(p, "ErrorEquals")),
			IntervalSeconds: d.int64p(it.get("IntervalSeconds"), pointerJoin(p, "IntervalSeconds")),
			MaxAttempts:     d.int64p(it.get("MaxAttempts"), pointerJoin(p, "MaxAttempts")),
			BackoffRate:     d.float64p(it.get("BackoffRate"), pointerJoin(p, "BackoffRate")),
			MaxDelaySeconds: d.int64p(it.get("MaxDelaySeconds"), pointerJoin(p, "MaxDelaySeconds")),
			JitterStrategy:  d.str(it.get("JitterStrategy"), pointerJoin(p, "JitterStrategy")),
		})
	}
	return out
}

func (d *decoder) catch(n *node, ptr string) []Catcher {
	if n.kind != kindArray {
		d.wrong(n, ptr, "an array")
		return nil
	}
	var out []Catcher
	for i, it := range n.items {
		p := pointerIndex(ptr, i)
		if !d.object(it, p) {
			continue
		}
		c := Catcher{
			ErrorEquals: d.stringList(it.get("ErrorEquals"), pointerJoin(p, "ErrorEquals")),
			Next:        d.str(it.get("Next"), pointerJoin(p, "Next")),
			Comment:     d.str(it.get("Comment"), pointerJoin(p, "Comment")),
			Assign:      raw(it.get("Assign")),
			Output:      raw(it.get("Output")),
		}
		c.ResultPath, c.ResultPathNull = d.strPtr(it.get("ResultPath"), pointerJoin(p, "ResultPath"))
		out = append(out, c)
	}
	return out
}

func (d *decoder) choiceRule(n *node, ptr string) *ChoiceRule {
	if !d.object(n, ptr) {
		return nil
	}
	rule := &ChoiceRule{
		Variable: d.str(n.get("Variable"), pointerJoin(ptr, "Variable")),
		Next:     d.str(n.get("Next"), pointerJoin(ptr, "Next")),
		Comment:  d.str(n.get("Comment"), pointerJoin(ptr, "Comment")),
		Assign:   raw(n.get("Assign")),
	}
	if c := n.get("Condition"); c != nil {
		rule.Condition = d.str(c, pointerJoin(ptr, "Condition"))
	}
	rule.Output = raw(n.get("Output"))
	for _, key := range []string{"And", "Or"} {
		v := n.get(key)
		if v == nil {
			continue
		}
		p := pointerJoin(ptr, key)
		if v.kind != kindArray {
			d.wrong(v, p, "an array")
			continue
		}
		var rules []*ChoiceRule
		for i, it := range v.items {
			if sub := d.choiceRule(it, pointerIndex(p, i)); sub != nil {
				rules = append(rules, sub)
			}
		}
		if key == "And" {
			rule.And = rules
		} else {
			rule.Or = rules
		}
	}
	if v := n.get("Not"); v != nil {
		rule.Not = d.choiceRule(v, pointerJoin(ptr, "Not"))
	}
	for _, f := range n.fields {
		if _, ok := comparisonOperators[f.key]; ok {
			rule.Operator, rule.Value = f.key, f.value.json()
			break
		}
	}
	return rule
}

func (d *decoder) itemReader(n *node, ptr string) *ItemReader {
	if !d.object(n, ptr) {
		return nil
	}
	ir := &ItemReader{
		Resource:   d.str(n.get("Resource"), pointerJoin(ptr, "Resource")),
		Parameters: raw(n.get("Parameters")),
		Arguments:  raw(n.get("Arguments")),
	}
	rc := n.get("ReaderConfig")
	p := pointerJoin(ptr, "ReaderConfig")
	if rc == nil || !d.object(rc, p) {
		return ir
	}
	at := func(key string) (*node, string) { return rc.get(key), pointerJoin(p, key) }
	cfg := &ReaderConfig{}
	cfg.InputType = d.str(at("InputType"))
	cfg.CSVHeaderLocation = d.str(at("CSVHeaderLocation"))
	cfg.CSVHeaders = d.stringList(at("CSVHeaders"))
	cfg.CSVDelimiter = d.str(at("CSVDelimiter"))
	// MaxItems is read by the caller, which may hold it as an
	// expression.
	cfg.MaxItemsPath = d.str(at("MaxItemsPath"))
	cfg.ItemsPointer = d.str(at("ItemsPointer"))
	// Extra keeps the fields the types do not name (ManifestType,
	// Transformation, ...) as one object, so a reader can still see them.
	extra := &node{kind: kindObject}
	for _, f := range rc.fields {
		if !readerConfigTyped[f.key] {
			extra.fields = append(extra.fields, f)
		}
	}
	if len(extra.fields) > 0 {
		cfg.Extra = extra.json()
	}
	ir.ReaderConfig = cfg
	return ir
}

// readerConfigTyped are the ReaderConfig fields with their own Go field.
var readerConfigTyped = map[string]bool{
	"InputType": true, "CSVHeaderLocation": true, "CSVHeaders": true, "CSVDelimiter": true,
	"MaxItems": true, "MaxItemsPath": true, "ItemsPointer": true,
}
