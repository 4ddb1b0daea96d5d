package asl

import "encoding/json"

// State types.
const (
	TypeTask     = "Task"
	TypePass     = "Pass"
	TypeChoice   = "Choice"
	TypeWait     = "Wait"
	TypeSucceed  = "Succeed"
	TypeFail     = "Fail"
	TypeParallel = "Parallel"
	TypeMap      = "Map"
)

// StateMachine is a whole definition, or the body of a Parallel branch or a
// Map's ItemProcessor (which have StartAt and States only).
type StateMachine struct {
	Comment        string            `json:"Comment,omitempty"`
	StartAt        string            `json:"StartAt"`
	States         map[string]*State `json:"States"`
	Version        string            `json:"Version,omitempty"`
	TimeoutSeconds *int64            `json:"TimeoutSeconds,omitempty"`
	QueryLanguage  string            `json:"QueryLanguage,omitempty"`
	// ProcessorConfig is set on a Map's ItemProcessor only.
	ProcessorConfig *ProcessorConfig `json:"ProcessorConfig,omitempty"`
	// Warnings are what Load accepted, as Step Functions does, but a
	// user most likely did not mean (a key written twice); set on the
	// top-level machine only.
	Warnings []Error `json:"-"`
}

// ProcessorConfig is a Map ItemProcessor's mode; only INLINE runs locally,
// DISTRIBUTED runs inline too (children are not separate executions).
type ProcessorConfig struct {
	Mode          string `json:"Mode,omitempty"`
	ExecutionType string `json:"ExecutionType,omitempty"`
}

// State is any of the eight state types; which fields may be set depends
// on Type and is checked by Validate. Payload templates (Parameters,
// ResultSelector, ItemSelector, Result, Arguments) stay raw JSON: the
// interpreter compiles them.
type State struct {
	Type    string `json:"Type"`
	Comment string `json:"Comment,omitempty"`
	Next    string `json:"Next,omitempty"`
	End     bool   `json:"End,omitempty"`
	// QueryLanguage is the state's own "JSONPath" or "JSONata", "" to
	// inherit the top level's.
	QueryLanguage string `json:"QueryLanguage,omitempty"`
	// Arguments and Output are a JSONata state's payload templates:
	// strings written "{% expression %}" are evaluated, anything else
	// is literal.
	Arguments json.RawMessage `json:"Arguments,omitempty"`
	Output    json.RawMessage `json:"Output,omitempty"`
	// Exprs holds, in a JSONata state, the numeric fields written as a
	// "{% expression %}" string (TimeoutSeconds, HeartbeatSeconds,
	// Seconds, MaxConcurrency, ToleratedFailureCount,
	// ToleratedFailurePercentage, and within the Map's ItemReader and
	// ItemBatcher "ItemReader/ReaderConfig/MaxItems",
	// "ItemBatcher/MaxItemsPerBatch" and
	// "ItemBatcher/MaxInputBytesPerBatch"), by the field's path in the
	// state.
	Exprs map[string]string `json:"-"`

	// Input/output processing. A nil pointer means the field is absent
	// ("$" by default); a pointer to "" cannot happen in JSON, while an
	// explicit null is recorded by the *Null flags below, because null
	// means "discard" (InputPath/OutputPath: {} ; ResultPath: keep input).
	InputPath      *string         `json:"-"`
	OutputPath     *string         `json:"-"`
	ResultPath     *string         `json:"-"`
	InputPathNull  bool            `json:"-"`
	OutputPathNull bool            `json:"-"`
	ResultPathNull bool            `json:"-"`
	Parameters     json.RawMessage `json:"Parameters,omitempty"`
	ResultSelector json.RawMessage `json:"ResultSelector,omitempty"`
	// Assign sets workflow variables once the state is done (a payload
	// template whose keys are variable names).
	Assign json.RawMessage `json:"Assign,omitempty"`

	// Pass
	Result json.RawMessage `json:"Result,omitempty"`

	// Task
	Resource             string          `json:"Resource,omitempty"`
	TimeoutSeconds       *int64          `json:"TimeoutSeconds,omitempty"`
	TimeoutSecondsPath   string          `json:"TimeoutSecondsPath,omitempty"`
	HeartbeatSeconds     *int64          `json:"HeartbeatSeconds,omitempty"`
	HeartbeatSecondsPath string          `json:"HeartbeatSecondsPath,omitempty"`
	Credentials          json.RawMessage `json:"Credentials,omitempty"`

	// Task, Parallel, Map
	Retry []Retrier `json:"Retry,omitempty"`
	Catch []Catcher `json:"Catch,omitempty"`

	// Choice
	Choices []ChoiceRule `json:"Choices,omitempty"`
	Default string       `json:"Default,omitempty"`

	// Wait
	Seconds       *int64 `json:"Seconds,omitempty"`
	SecondsPath   string `json:"SecondsPath,omitempty"`
	Timestamp     string `json:"Timestamp,omitempty"`
	TimestampPath string `json:"TimestampPath,omitempty"`

	// Fail
	Error     string `json:"Error,omitempty"`
	ErrorPath string `json:"ErrorPath,omitempty"`
	Cause     string `json:"Cause,omitempty"`
	CausePath string `json:"CausePath,omitempty"`

	// Parallel
	Branches []*StateMachine `json:"Branches,omitempty"`

	// Map. Iterator is the older name of ItemProcessor and Parameters the
	// older name of ItemSelector; Decode moves them to the new fields.
	ItemProcessor                  *StateMachine   `json:"ItemProcessor,omitempty"`
	Iterator                       *StateMachine   `json:"Iterator,omitempty"`
	ItemsPath                      *string         `json:"ItemsPath,omitempty"`
	Items                          json.RawMessage `json:"Items,omitempty"`
	ItemSelector                   json.RawMessage `json:"ItemSelector,omitempty"`
	ItemReader                     *ItemReader     `json:"ItemReader,omitempty"`
	ItemBatcher                    *ItemBatcher    `json:"ItemBatcher,omitempty"`
	ResultWriter                   json.RawMessage `json:"ResultWriter,omitempty"`
	MaxConcurrency                 *int64          `json:"MaxConcurrency,omitempty"`
	MaxConcurrencyPath             string          `json:"MaxConcurrencyPath,omitempty"`
	ToleratedFailurePercentage     *float64        `json:"ToleratedFailurePercentage,omitempty"`
	ToleratedFailurePercentagePath string          `json:"ToleratedFailurePercentagePath,omitempty"`
	ToleratedFailureCount          *int64          `json:"ToleratedFailureCount,omitempty"`
	ToleratedFailureCountPath      string          `json:"ToleratedFailureCountPath,omitempty"`
	Label                          string          `json:"Label,omitempty"`
}

// Retrier is one entry of Retry.
type Retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds *int64   `json:"IntervalSeconds,omitempty"` // default 1
	MaxAttempts     *int64   `json:"MaxAttempts,omitempty"`     // default 3; 0 never retries
	BackoffRate     *float64 `json:"BackoffRate,omitempty"`     // default 2.0
	MaxDelaySeconds *int64   `json:"MaxDelaySeconds,omitempty"`
	JitterStrategy  string   `json:"JitterStrategy,omitempty"` // FULL or NONE (default)
}

// Catcher is one entry of Catch. A nil ResultPath means "$"; ResultPathNull
// records an explicit null (the error output is discarded, input kept).
type Catcher struct {
	ErrorEquals    []string `json:"ErrorEquals"`
	Next           string   `json:"Next"`
	ResultPath     *string  `json:"-"`
	ResultPathNull bool     `json:"-"`
	Comment        string   `json:"Comment,omitempty"`
	// Assign sets variables from the error output when this catcher
	// handles the error.
	Assign json.RawMessage `json:"Assign,omitempty"`
	// Output (JSONata) is the state's output when this catcher handles
	// the error; $states.errorOutput by default.
	Output json.RawMessage `json:"Output,omitempty"`
}

// ChoiceRule is a top-level rule of a Choice state (with Next) or a nested
// one inside And, Or or Not (without Next). Exactly one comparison
// operator, or one of And/Or/Not, is set.
type ChoiceRule struct {
	Variable string `json:"Variable,omitempty"`
	Next     string `json:"Next,omitempty"`
	Comment  string `json:"Comment,omitempty"`
	// Assign (top-level rules only) sets variables from the Choice's
	// input when this rule is the one taken.
	Assign json.RawMessage `json:"Assign,omitempty"`
	// Condition (JSONata, top-level rules only) is a "{% expression %}"
	// giving a boolean.
	Condition string `json:"Condition,omitempty"`
	// Output (JSONata, top-level rules only) replaces the state's
	// Output when this rule is the one taken.
	Output json.RawMessage `json:"Output,omitempty"`
	And    []*ChoiceRule   `json:"And,omitempty"`
	Or     []*ChoiceRule   `json:"Or,omitempty"`
	Not    *ChoiceRule     `json:"Not,omitempty"`

	// Operator is the comparison's name ("StringEquals",
	// "NumericLessThanPath", "IsPresent", ...) and Value its raw operand;
	// Decode fills them from whichever operator field the rule has.
	Operator string          `json:"-"`
	Value    json.RawMessage `json:"-"`
}

// ItemReader reads a Map's items from a file instead of the input. Locally
// Resource is "arn:aws:states:::s3:getObject" (or listObjectsV2) and
// Parameters name a local file through Bucket/Key (Bucket is a directory,
// Key a path below it) or a "Path" parameter.
type ItemReader struct {
	Resource     string          `json:"Resource"`
	ReaderConfig *ReaderConfig   `json:"ReaderConfig,omitempty"`
	Parameters   json.RawMessage `json:"Parameters,omitempty"`
	// Arguments is Parameters in a JSONata Map.
	Arguments json.RawMessage `json:"Arguments,omitempty"`
}

// ReaderConfig says how a file of items is read.
type ReaderConfig struct {
	InputType         string          `json:"InputType,omitempty"` // JSON, JSONL, CSV, MANIFEST
	CSVHeaderLocation string          `json:"CSVHeaderLocation,omitempty"`
	CSVHeaders        []string        `json:"CSVHeaders,omitempty"`
	CSVDelimiter      string          `json:"CSVDelimiter,omitempty"`
	MaxItems          *int64          `json:"MaxItems,omitempty"`
	MaxItemsPath      string          `json:"MaxItemsPath,omitempty"`
	ItemsPointer      string          `json:"ItemsPointer,omitempty"`
	Extra             json.RawMessage `json:"-"`
}

// ItemBatcher groups a Map's items into batches {"Items": [...], "BatchInput": ...}.
type ItemBatcher struct {
	MaxItemsPerBatch          *int64          `json:"MaxItemsPerBatch,omitempty"`
	MaxItemsPerBatchPath      string          `json:"MaxItemsPerBatchPath,omitempty"`
	MaxInputBytesPerBatch     *int64          `json:"MaxInputBytesPerBatch,omitempty"`
	MaxInputBytesPerBatchPath string          `json:"MaxInputBytesPerBatchPath,omitempty"`
	BatchInput                json.RawMessage `json:"BatchInput,omitempty"`
}
