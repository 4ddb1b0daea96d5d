package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// protocol is how a service's operations travel over HTTP.
type protocol uint8

const (
	awsJSON  protocol = iota // POST / with X-Amz-Target and a JSON body (DynamoDB, SQS)
	restJSON                 // members in the path, headers, query and a JSON body (Lambda)
	awsQuery                 // a form POST, XML responses (SNS)
	restXML                  // members in the path, headers, query; XML bodies (S3)
)

// encode makes the request of an operation of svc from its members.
func encode(svc *service, op opShape, in *jsonvalue.Object) (*request, error) {
	r := &request{service: svc.signingName, method: http.MethodPost, path: "/", query: url.Values{}, header: http.Header{}}
	switch svc.protocol {
	case awsJSON:
		body, err := jsonAppend(nil, op.in, in)
		if err != nil {
			return nil, err
		}
		r.body = body
		r.header.Set("Content-Type", "application/x-amz-json-1.0")
		r.header.Set("X-Amz-Target", svc.target+"."+op.name)
		if svc.signingName == "sqs" {
			// SQS moved from the query protocol to JSON and keeps the
			// query protocol's error codes for clients that say so.
			r.header.Set("X-Amzn-Query-Mode", "true")
		}
		return r, nil
	case awsQuery:
		form := url.Values{"Action": {op.name}, "Version": {svc.version}}
		if err := queryFlatten(form, "", op.in, in); err != nil {
			return nil, err
		}
		r.body = []byte(strings.ReplaceAll(form.Encode(), "+", "%20"))
		r.header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r, nil
	}
	ro, ok := svc.rest[op.name]
	if !ok {
		return nil, fmt.Errorf("%s has no HTTP binding", op.name)
	}
	return encodeREST(svc, op, ro, in, r)
}

// encodeREST places the members of a REST operation's request.
func encodeREST(svc *service, op opShape, ro restOp, in *jsonvalue.Object, r *request) (*request, error) {
	r.method = ro.method
	path, fixed, _ := strings.Cut(ro.path, "?")
	if fixed != "" {
		q, err := url.ParseQuery(fixed)
		if err != nil {
			return nil, err
		}
		for k, vs := range q {
			if k != "x-id" { // the SDK's marker of the operation, not AWS's
				r.query[k] = vs
			}
		}
	}
	rest := in.Clone()
	for _, b := range ro.in {
		v, ok := rest.Get(b.member)
		if !ok {
			continue
		}
		rest.Delete(b.member)
		m, _ := op.in.member(b.member)
		switch b.loc {
		case locURI:
			s := scalarText(m.shape, v)
			if s == "" {
				return nil, fmt.Errorf("%s must not be empty", b.member)
			}
			label, greedy := "{"+b.name+"}", "{"+b.name+"+}"
			if strings.Contains(path, greedy) {
				path = strings.Replace(path, greedy, uriEscape(s, false), 1)
			} else {
				path = strings.Replace(path, label, uriEscape(s, true), 1)
			}
		case locQuery:
			if m.shape.kind == kList {
				for _, e := range v.([]any) {
					r.query.Add(b.name, scalarText(m.shape.elem, e))
				}
			} else {
				r.query.Set(b.name, scalarText(m.shape, v))
			}
		case locHeader:
			if m.shape.kind == kList {
				var parts []string
				for _, e := range v.([]any) {
					parts = append(parts, scalarText(m.shape.elem, e))
				}
				r.header.Set(b.name, strings.Join(parts, ","))
			} else {
				r.header.Set(b.name, headerText(m.shape, v))
			}
		case locPrefix:
			for k, e := range v.(*jsonvalue.Object).All() {
				r.header.Set(b.name+k, scalarText(m.shape.elem, e))
			}
		}
	}
	if svc.protocol == restXML {
		if b, ok := rest.Get("Bucket"); ok {
			r.bucket = b.(string)
			rest.Delete("Bucket")
		}
	}
	r.path = path
	for _, name := range rest.Keys() {
		v, _ := rest.Get(name)
		m, _ := op.in.member(name)
		switch {
		case m.shape.kind == kReader || m.shape.kind == kBlob:
			r.body = v.([]byte)
			if r.header.Get("Content-Type") == "" {
				r.header.Set("Content-Type", "application/octet-stream")
			}
		case svc.protocol == restXML && m.shape.kind == kStruct:
			var b bytes.Buffer
			b.WriteString(`<` + name + ` xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
			if err := xmlWrite(&b, m.shape, v); err != nil {
				return nil, err
			}
			b.WriteString(`</` + name + `>`)
			r.body = b.Bytes()
			r.header.Set("Content-Type", "application/xml")
		case svc.protocol == restJSON:
			continue // in the JSON body below
		default:
			return nil, fmt.Errorf("the parameter %s of %s is not supported", name, op.name)
		}
		rest.Delete(name)
	}
	if svc.protocol == restJSON && rest.Len() > 0 {
		body, err := jsonAppend(nil, op.in, rest)
		if err != nil {
			return nil, err
		}
		r.body = body
		r.header.Set("Content-Type", "application/json")
	}
	return r, nil
}

// scalarText is a member's value in a path or query.
func scalarText(s *shape, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return string(x)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05Z")
	}
	return fmt.Sprint(v)
}

// headerText is a member's value in a header: timestamps as HTTP dates.
func headerText(s *shape, v any) string {
	if t, ok := v.(time.Time); ok {
		return t.UTC().Format(http1123)
	}
	return scalarText(s, v)
}

// jsonAppend writes a request's members as JSON: blobs base64,
// timestamps as seconds since the epoch.
func jsonAppend(dst []byte, s *shape, v any) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return jsonvalue.Append(dst, base64.StdEncoding.EncodeToString(x))
	case time.Time:
		return strconv.AppendFloat(dst, float64(x.UnixMilli())/1000, 'f', -1, 64), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = jsonAppend(dst, elemOf(s), e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case *jsonvalue.Object:
		if s != nil && s.kind == kAttr {
			return jsonvalue.Append(dst, x)
		}
		dst = append(dst, '{')
		i := 0
		for k, e := range x.All() {
			if i > 0 {
				dst = append(dst, ',')
			}
			i++
			var es *shape
			if s != nil && s.kind == kStruct {
				m, _ := s.member(k)
				es, k = m.shape, m.wireName()
			} else {
				es = elemOf(s)
			}
			dst, _ = jsonvalue.Append(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = jsonAppend(dst, es, e); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	return jsonvalue.Append(dst, v)
}

func elemOf(s *shape) *shape {
	if s == nil {
		return nil
	}
	return s.elem
}

// queryFlatten writes members as the query protocol's form fields:
// Struct.Member, List.member.N, Map.entry.N.key and .value (SNS's
// message attributes: .Name and .Value).
func queryFlatten(form url.Values, prefix string, s *shape, v any) error {
	switch x := v.(type) {
	case *jsonvalue.Object:
		if s.kind == kMap {
			i := 0
			keyName, valueName := "key", "value"
			if strings.HasSuffix(prefix, "MessageAttributes") {
				keyName, valueName = "Name", "Value"
			}
			keys := x.Keys()
			slices.Sort(keys)
			for _, k := range keys {
				i++
				e, _ := x.Get(k)
				p := fmt.Sprintf("%s.entry.%d", prefix, i)
				form.Set(p+"."+keyName, k)
				if err := queryFlatten(form, p+"."+valueName, s.elem, e); err != nil {
					return err
				}
			}
			return nil
		}
		for k, e := range x.All() {
			m, _ := s.member(k)
			if err := queryFlatten(form, join(prefix, m.wireName()), m.shape, e); err != nil {
				return err
			}
		}
		return nil
	case []any:
		if len(x) == 0 {
			form.Set(prefix, "")
		}
		for i, e := range x {
			if err := queryFlatten(form, fmt.Sprintf("%s.member.%d", prefix, i+1), s.elem, e); err != nil {
				return err
			}
		}
		return nil
	case nil:
		return nil
	}
	form.Set(prefix, scalarText(s, v))
	return nil
}

// xmlWrite writes a structure's members as XML elements.
func xmlWrite(b *bytes.Buffer, s *shape, v any) error {
	switch x := v.(type) {
	case *jsonvalue.Object:
		for k, e := range x.All() {
			m, _ := s.member(k)
			if m.shape != nil && m.shape.kind == kList {
				for _, it := range e.([]any) {
					b.WriteString("<" + k + ">")
					if err := xmlWrite(b, m.shape.elem, it); err != nil {
						return err
					}
					b.WriteString("</" + k + ">")
				}
				continue
			}
			b.WriteString("<" + k + ">")
			if err := xmlWrite(b, m.shape, e); err != nil {
				return err
			}
			b.WriteString("</" + k + ">")
		}
		return nil
	}
	return xml.EscapeText(b, []byte(scalarText(s, v)))
}

// xmlNode is an element of an XML response.
type xmlNode struct {
	name     string
	text     string
	buf      []byte // the text while the element is read
	children []*xmlNode
}

// maxXMLDepth bounds the nesting of an XML response.
const maxXMLDepth = 64

// parseXML reads an XML document into its root element.
func parseXML(b []byte) (*xmlNode, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var stack []*xmlNode
	var root *xmlNode
	for {
		tok, err := d.Token()
		if err != nil {
			if root != nil && len(stack) == 0 && err == io.EOF {
				return root, nil
			}
			return nil, fmt.Errorf("the XML response: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("the XML response has more than one root element")
			}
			if len(stack) >= maxXMLDepth {
				return nil, errors.New("the XML response is nested too deep")
			}
			n := &xmlNode{name: t.Name.Local}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.text, n.buf = string(n.buf), nil
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				n := stack[len(stack)-1]
				n.buf = append(n.buf, t...)
			}
		}
	}
}

func (n *xmlNode) child(name string) *xmlNode {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// find is the first element named name at or below n.
func (n *xmlNode) find(name string) *xmlNode {
	if n.name == name {
		return n
	}
	for _, c := range n.children {
		if f := c.find(name); f != nil {
			return f
		}
	}
	return nil
}

// fromXML converts an element of an XML response as fromJSON does a
// JSON value. Lists are wrapped (<Topics><member>…</member></Topics>)
// or flattened (one <Contents> per item), maps <entry><key><value>.
func fromXML(s *shape, n *xmlNode) (any, bool, error) {
	switch s.kind {
	case kStruct:
		out := jsonvalue.NewObject(len(s.members))
		for _, m := range s.members {
			var x any
			ok := false
			var err error
			if m.shape.kind == kList {
				x, ok, err = xmlList(m.shape, n, m.wireName())
			} else if c := n.child(m.wireName()); c != nil {
				x, ok, err = fromXML(m.shape, c)
			}
			if err != nil {
				return nil, false, fmt.Errorf("%s: %w", m.name, err)
			}
			if !ok && m.always {
				x, ok = zero(m.shape), true
			}
			if ok {
				out.Set(m.name, x)
			}
		}
		return out, true, nil
	case kList:
		return xmlItems(s, n.children)
	case kMap:
		out := jsonvalue.NewObject(len(n.children))
		var keys []string
		vals := map[string]*xmlNode{}
		for _, e := range n.children {
			k, v := e.child("key"), e.child("value")
			if k == nil || v == nil {
				continue
			}
			keys = append(keys, k.text)
			vals[k.text] = v
		}
		slices.Sort(keys)
		for _, k := range keys {
			x, _, err := fromXML(s.elem, vals[k])
			if err != nil {
				return nil, false, err
			}
			out.Set(k, x)
		}
		return out, true, nil
	}
	if len(n.children) > 0 {
		return nil, false, fmt.Errorf("<%s> has elements where the API has a %s", n.name, kindName(s.kind))
	}
	return fromText(s, n.text)
}

// xmlList is the list member name of n, flattened or wrapped.
func xmlList(s *shape, n *xmlNode, name string) (any, bool, error) {
	var items []*xmlNode
	for _, c := range n.children {
		if c.name == name {
			items = append(items, c)
		}
	}
	if len(items) == 0 {
		return nil, false, nil
	}
	flattened := len(items) > 1
	if !flattened {
		c := items[0]
		if s.elem.kind == kStruct {
			for _, g := range c.children {
				if _, ok := s.elem.member(g.name); ok {
					flattened = true
				}
			}
		} else {
			flattened = len(c.children) == 0 && strings.TrimSpace(c.text) != ""
		}
	}
	if !flattened {
		return xmlItems(s, items[0].children)
	}
	return xmlItems(s, items)
}

func xmlItems(s *shape, items []*xmlNode) (any, bool, error) {
	out := make([]any, 0, len(items))
	for _, it := range items {
		x, _, err := fromXML(s.elem, it)
		if err != nil {
			return nil, false, err
		}
		out = append(out, x)
	}
	return out, true, nil
}

// fromText converts a scalar written as text (in XML or a header).
func fromText(s *shape, text string) (any, bool, error) {
	switch s.kind {
	case kString:
		return text, true, nil
	case kEnum:
		return text, text != "", nil
	case kBool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, false, fmt.Errorf("%q is not a boolean", text)
		}
		return b, true, nil
	case kInt, kFloat:
		return number(s.kind, strings.TrimSpace(text))
	case kTime:
		return timeText(text)
	case kBlob:
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
		if err != nil {
			return nil, false, fmt.Errorf("a blob is not base64: %w", err)
		}
		return base64.StdEncoding.EncodeToString(b), true, nil
	}
	return nil, false, fmt.Errorf("a %s cannot be read from text", kindName(s.kind))
}

// decodeResponse converts a successful response of op to its result.
func decodeResponse(svc *service, op opShape, resp *response) (*jsonvalue.Object, error) {
	var out any
	var err error
	switch svc.protocol {
	case awsJSON:
		out, err = jsonBody(op.out, resp.body)
	case awsQuery:
		root, perr := parseXML(resp.body)
		if perr != nil {
			return nil, perr
		}
		res := root.child(op.name + "Result")
		if res == nil {
			res = &xmlNode{name: op.name + "Result"}
		}
		out, _, err = fromXML(op.out, res)
	case restJSON, restXML:
		out, err = decodeREST(svc, op, resp)
	}
	if err != nil {
		return nil, fmt.Errorf("%s's response: %w", op.name, err)
	}
	return out.(*jsonvalue.Object), nil
}

func jsonBody(s *shape, body []byte) (any, error) {
	var v any = jsonvalue.NewObject(0)
	if len(bytes.TrimSpace(body)) > 0 {
		var err error
		if v, err = jsonvalue.Decode(body); err != nil {
			return nil, err
		}
	}
	out, ok, err := fromJSON(s, v)
	if err != nil {
		return nil, err
	}
	if !ok {
		out, _, _ = fromJSON(s, jsonvalue.NewObject(0))
	}
	return out, nil
}

// decodeREST reads a REST response: members from headers and the status
// code, a streamed or blob member from the body, the others from the
// body's JSON or XML document.
func decodeREST(svc *service, op opShape, resp *response) (any, error) {
	ro := svc.rest[op.name]
	bound := map[string]any{}
	for _, b := range ro.out {
		m, ok := op.out.member(b.member)
		if !ok {
			continue
		}
		switch b.loc {
		case locStatus:
			bound[b.member] = json.Number(strconv.Itoa(resp.status))
		case locHeader:
			h := resp.header.Values(b.name)
			if len(h) == 0 {
				continue
			}
			if m.shape.kind == kList {
				var items []any
				for _, p := range strings.Split(h[0], ",") {
					x, _, err := fromText(m.shape.elem, strings.TrimSpace(p))
					if err != nil {
						return nil, fmt.Errorf("%s: %w", b.member, err)
					}
					items = append(items, x)
				}
				bound[b.member] = items
				continue
			}
			x, ok, err := fromText(m.shape, strings.TrimSpace(h[0]))
			if err != nil {
				if m.shape.kind == kTime {
					continue // as the SDKs do with a malformed Expires
				}
				return nil, fmt.Errorf("%s: %w", b.member, err)
			}
			if ok {
				bound[b.member] = x
			}
		case locPrefix:
			meta := map[string]string{}
			for k, vs := range resp.header {
				if len(k) >= len(b.name) && strings.EqualFold(k[:len(b.name)], b.name) {
					meta[strings.ToLower(k[len(b.name):])] = vs[0]
				}
			}
			if len(meta) > 0 {
				o := jsonvalue.NewObject(len(meta))
				for _, k := range slices.Sorted(mapsKeys(meta)) {
					o.Set(k, meta[k])
				}
				bound[b.member] = o
			}
		}
	}
	var doc any
	payload := ""
	for _, m := range op.out.members {
		if _, ok := bound[m.name]; ok {
			continue
		}
		if m.shape.kind == kBody || m.shape.kind == kBlob {
			payload = m.name
		}
	}
	switch {
	case payload != "":
		if op.out == &shS3GetObjectOutput && len(resp.body) > maxBody {
			return nil, fmt.Errorf("the body is larger than %d bytes", maxBody)
		}
		if m, _ := op.out.member(payload); m.shape.kind == kBody {
			bound[payload] = string(resp.body)
		} else if len(resp.body) > 0 {
			bound[payload] = base64.StdEncoding.EncodeToString(resp.body)
		}
	case svc.protocol == restJSON:
		v, err := jsonBody(op.out, resp.body)
		if err != nil {
			return nil, err
		}
		doc = v
	case len(bytes.TrimSpace(resp.body)) > 0:
		root, err := parseXML(resp.body)
		if err != nil {
			return nil, err
		}
		if root.name == "Error" {
			// S3 can fail a CopyObject after its 200 status.
			e := errorOf(svc)(resp)
			e.Status = resp.status
			if e.RequestID == "" {
				e.RequestID = resp.requestID("s3")
			}
			return nil, e
		}
		// A document member (CopyObject's CopyObjectResult) is the root;
		// otherwise the root holds the members.
		for _, m := range op.out.members {
			if m.shape.kind == kStruct && m.name == root.name {
				x, _, err := fromXML(m.shape, root)
				if err != nil {
					return nil, err
				}
				bound[m.name] = x
				root = nil
				break
			}
		}
		if root != nil {
			v, _, err := fromXML(op.out, root)
			if err != nil {
				return nil, err
			}
			doc = v
		}
	}
	out := jsonvalue.NewObject(len(op.out.members))
	for _, m := range op.out.members {
		if x, ok := bound[m.name]; ok {
			out.Set(m.name, x)
			continue
		}
		if d, ok := doc.(*jsonvalue.Object); ok {
			if x, ok := d.Get(m.name); ok {
				out.Set(m.name, x)
				continue
			}
		}
		if m.always {
			out.Set(m.name, zero(m.shape))
		}
	}
	return out, nil
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// errorOf reads an error response: the code and message of a JSON
// document (__type, code, message) or an XML one (<Error><Code>), and
// the header that names the error, which SQS's query compatibility and
// Lambda use.
func errorOf(svc *service) func(*response) *apiError {
	return func(r *response) *apiError {
		e := &apiError{}
		switch svc.protocol {
		case awsJSON, restJSON:
			e.Code = r.header.Get("X-Amzn-ErrorType")
			var doc struct {
				Type     string `json:"__type"`
				Code     string `json:"code"`
				Message  string `json:"message"`
				Message2 string `json:"Message"`
				Message3 string `json:"errorMessage"`
			}
			_ = json.Unmarshal(r.body, &doc)
			if e.Code == "" {
				e.Code = doc.Type
			}
			if e.Code == "" {
				e.Code = doc.Code
			}
			e.Message = cmpOr(doc.Message, doc.Message2, doc.Message3)
			e.Code, _, _ = strings.Cut(e.Code, ":")
			if i := strings.LastIndex(e.Code, "#"); i >= 0 {
				e.Code = e.Code[i+1:]
			}
			if q := r.header.Get("X-Amzn-Query-Error"); q != "" {
				if code, _, ok := strings.Cut(q, ";"); ok && code != "" {
					e.Code = code
				}
			}
		default:
			if root, err := parseXML(r.body); err == nil && len(r.body) > 0 {
				if n := root.find("Code"); n != nil {
					e.Code = strings.TrimSpace(n.text)
				}
				if n := root.find("Message"); n != nil {
					e.Message = n.text
				}
				if n := root.find("RequestId"); n != nil {
					e.RequestID = strings.TrimSpace(n.text)
				}
			}
		}
		if e.Code == "" && svc.protocol == restXML {
			// A HEAD request's error has no body: the status names it.
			e.Code = strings.ReplaceAll(http.StatusText(r.status), " ", "")
		}
		if e.Code == "" {
			e.Code = "UnknownError"
		}
		return e
	}
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
