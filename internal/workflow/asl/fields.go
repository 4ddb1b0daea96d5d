package asl

import (
	"slices"

	"github.com/velocity-ci/velocity/internal/typo"
)

// The fields each object of a definition may hold. Fields of other
// state types get "not allowed in a Pass state" instead of "unknown".

var (
	commonFields = []string{"Type", "Comment", "QueryLanguage"}
	ioFields     = []string{"InputPath", "OutputPath"}
	flowFields   = []string{"Next", "End"}
	errorFields  = []string{"Retry", "Catch"}
	// assignFields: the states that may set variables (AWS: Pass, Task,
	// Map, Parallel, Choice, Wait; not Succeed or Fail).
	assignFields = []string{"Assign"}
)

func fieldSet(groups ...[]string) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	slices.Sort(out)
	return out
}

// stateFields lists the fields each state type accepts (JSONPath).
var stateFields = map[string][]string{
	TypePass:     fieldSet(commonFields, ioFields, flowFields, assignFields, []string{"Parameters", "Result", "ResultPath"}),
	TypeTask:     fieldSet(commonFields, ioFields, flowFields, errorFields, assignFields, []string{"Resource", "Parameters", "ResultPath", "ResultSelector", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials"}),
	TypeChoice:   fieldSet(commonFields, ioFields, assignFields, []string{"Choices", "Default"}),
	TypeWait:     fieldSet(commonFields, ioFields, flowFields, assignFields, []string{"Seconds", "SecondsPath", "Timestamp", "TimestampPath"}),
	TypeSucceed:  fieldSet(commonFields, ioFields),
	TypeFail:     fieldSet(commonFields, []string{"Error", "ErrorPath", "Cause", "CausePath"}),
	TypeParallel: fieldSet(commonFields, ioFields, flowFields, errorFields, assignFields, []string{"Branches", "Parameters", "ResultPath", "ResultSelector"}),
	TypeMap: fieldSet(commonFields, ioFields, flowFields, errorFields, assignFields, []string{"ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector", "Parameters", "ItemReader", "ItemBatcher", "ResultWriter",
		"MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
		"ToleratedFailureCount", "ToleratedFailureCountPath", "Label", "ResultPath", "ResultSelector"}),
}

// stateTypes in the order messages list them.
var stateTypes = []string{TypeTask, TypePass, TypeChoice, TypeWait, TypeSucceed, TypeFail, TypeParallel, TypeMap}

// jsonataFields exist only in states written in JSONata.
var jsonataFields = []string{"Arguments", "Output", "Condition"}

// Machines: the top level, a Parallel branch, a Map's ItemProcessor and
// its older form Iterator.
var (
	topFields       = fieldSet([]string{"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"})
	branchFields    = fieldSet([]string{"Comment", "StartAt", "States"})
	processorFields = fieldSet([]string{"Comment", "StartAt", "States", "ProcessorConfig"})
)

var (
	retrierFields         = fieldSet([]string{"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"})
	catcherFields         = fieldSet([]string{"ErrorEquals", "Next", "ResultPath", "Comment", "Assign"})
	processorConfigFields = fieldSet([]string{"Mode", "ExecutionType"})
	itemReaderFields      = fieldSet([]string{"Resource", "ReaderConfig", "Parameters", "Arguments"})
	readerConfigFields    = fieldSet([]string{"InputType", "CSVHeaderLocation", "CSVHeaders", "CSVDelimiter", "MaxItems", "MaxItemsPath", "ItemsPointer", "ManifestType", "Transformation"})
	itemBatcherFields     = fieldSet([]string{"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath", "BatchInput"})
	resultWriterFields    = fieldSet([]string{"Resource", "Parameters", "Arguments", "WriterConfig"})
	writerConfigFields    = fieldSet([]string{"OutputType", "Transformation"})
)

// knownFields checks that every field of object n is in allowed,
// reporting the others with a suggestion. It reports a JSONata-only field
// as belonging to JSONata rather than as unknown.
func (v *validator) knownFields(n *node, ptr string, allowed []string, notAllowed func(key string) string) {
	for _, f := range n.fields {
		if slices.Contains(allowed, f.key) {
			continue
		}
		p := pointerJoin(ptr, f.key)
		switch {
		case slices.Contains(jsonataFields, f.key):
			v.r.add(f.keyPos, p, "field %q belongs to the JSONata query language and is not allowed in a JSONPath state; set \"QueryLanguage\": \"JSONata\" on the state or at the top level", f.key)
		case notAllowed != nil && notAllowed(f.key) != "":
			v.r.add(f.keyPos, p, "%s", notAllowed(f.key))
		default:
			v.r.add(f.keyPos, p, "unknown field %q%s", f.key, typo.DidYouMean(f.key, allowed))
		}
	}
}

// stateFieldOwner names, for a field a state of type typ may not hold,
// the state types that do accept it ("" when none does).
func stateFieldOwner(typ, key string) string {
	var owners []string
	for _, t := range stateTypes {
		if t != typ && slices.Contains(stateFields[t], key) {
			owners = append(owners, t)
		}
	}
	if len(owners) == 0 {
		return ""
	}
	return "field " + quote(key) + " is not allowed in a " + typ + " state (only in " + joinOr(owners) + ")"
}

func quote(s string) string { return `"` + s + `"` }

// joinOr renders a list for a message: "Task, Parallel or Map".
func joinOr(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	out := items[0]
	for _, it := range items[1 : len(items)-1] {
		out += ", " + it
	}
	return out + " or " + items[len(items)-1]
}
