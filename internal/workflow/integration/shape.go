package integration

import "strings"

// shape describes the members and kinds of an operation's request or
// response, or of one value in them, as the AWS SDK for Go models them
// (shapes_gen.go is generated from its types): how task parameters map
// onto a request and how a response becomes a task result.
type shape struct {
	kind shapeKind
	// elem is the element of a list or the value of a map.
	elem *shape
	// members are a structure's, in the SDK's order.
	members []member
}

type member struct {
	name  string
	shape *shape
	// always is a member the SDK keeps as a value rather than a pointer:
	// results have it even when the response leaves it out, requests
	// leave it out when it is zero.
	always bool
	// wire is the member's name in requests and responses when it is not
	// name (SQS's tags, whose Go field is Tags).
	wire string
}

// wireName is the member's name in requests and responses.
func (m member) wireName() string {
	if m.wire != "" {
		return m.wire
	}
	return m.name
}

type shapeKind uint8

const (
	kString shapeKind = iota
	kEnum             // a string from a set; left out of results when empty
	kBool
	kInt
	kFloat
	kBlob
	kTime
	kList
	kMap
	kStruct
	kAttr   // a DynamoDB attribute value ({"S": "x"}, {"N": "1"}, ...)
	kReader // a streamed request body (S3 PutObject's Body)
	kBody   // a streamed response body (S3 GetObject's Body)
)

var (
	shString = shape{kind: kString}
	shEnum   = shape{kind: kEnum}
	shBool   = shape{kind: kBool}
	shInt    = shape{kind: kInt}
	shFloat  = shape{kind: kFloat}
	shBlob   = shape{kind: kBlob}
	shTime   = shape{kind: kTime}
	shAttr   = shape{kind: kAttr}
	shReader = shape{kind: kReader}
	shBody   = shape{kind: kBody}
)

// opShape is an operation: its name in the API (PutItem) and the shapes
// of its request and response.
type opShape struct {
	name    string
	in, out *shape
}

// member finds a structure's member by name, exactly or else ignoring
// case (Step Functions capitalises camelCase API members).
func (s *shape) member(name string) (member, bool) {
	for _, m := range s.members {
		if m.name == name {
			return m, true
		}
	}
	for _, m := range s.members {
		if strings.EqualFold(m.name, name) {
			return m, true
		}
	}
	return member{}, false
}

func (s *shape) memberNames() []string {
	out := make([]string, len(s.members))
	for i, m := range s.members {
		out[i] = m.name
	}
	return out
}

// restOp is where a REST operation's members go: its method, its path
// (and fixed query) with {Member} and greedy {Member+} labels, and the
// members bound to HTTP headers, query parameters and path labels in
// the request and to headers in the response.
type restOp struct {
	method, path string
	in, out      []binding
}

type binding struct {
	member string
	loc    location
	name   string
}

type location uint8

const (
	locHeader location = iota
	locQuery
	locURI
	locPrefix // a map of headers whose names start with name
	locStatus // the response's status code
)
