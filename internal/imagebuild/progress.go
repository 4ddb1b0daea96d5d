package imagebuild

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	"google.golang.org/protobuf/encoding/protowire"
)

// progress turns the engine's build message stream into log lines and
// remembers what the result needs: the image ID, and the step that failed.
type progress struct {
	log io.Writer
	// id is the built image's ID, from the stream's aux messages.
	id string
	// steps numbers BuildKit's vertices in the order they appear, as
	// "docker build --progress=plain" does ("#3 [2/4] RUN make").
	steps map[string]*step
	// failed is the name of the step that failed (BuildKit's vertex name,
	// or the classic builder's last "Step N/M : ..." line).
	failed string
	// partial is a classic "stream" line not ended by a newline yet.
	partial string
}

type step struct {
	n         int
	name      string
	started   bool
	completed bool
}

func newProgress(log io.Writer) *progress {
	if log == nil {
		log = io.Discard
	}
	return &progress{log: log, steps: map[string]*step{}}
}

// read consumes the stream to its end. The error is the build's failure
// as the engine words it, or a broken stream.
func (p *progress) read(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				p.flush()
				return nil
			}
			return fmt.Errorf("read the build's progress: %w", err)
		}
		if err := p.message(m); err != nil {
			p.flush()
			return err
		}
	}
}

func (p *progress) message(m jsonstream.Message) error {
	if m.Error != nil {
		return &StepError{Step: p.failed, Msg: m.Error.Message}
	}
	if m.Aux != nil {
		if m.ID == "moby.buildkit.trace" {
			var raw []byte
			if err := json.Unmarshal(*m.Aux, &raw); err != nil {
				return fmt.Errorf("read the build's progress: %w", err)
			}
			return p.trace(raw)
		}
		var aux struct{ ID string }
		if json.Unmarshal(*m.Aux, &aux) == nil && strings.HasPrefix(aux.ID, "sha256:") {
			p.id = aux.ID
		}
		return nil
	}
	if m.Stream != "" {
		p.classic(m.Stream)
	}
	if m.Status != "" && m.Progress == nil {
		// Pulls of a base image (classic builder) say what they do.
		fmt.Fprintf(p.log, "%s\n", strings.TrimRight(m.Status, "\n"))
	}
	return nil
}

// classic shows the classic builder's output lines, noting each step.
func (p *progress) classic(s string) {
	p.partial += s
	for {
		line, rest, ok := strings.Cut(p.partial, "\n")
		if !ok {
			return
		}
		p.partial = rest
		if strings.HasPrefix(line, "Step ") {
			if _, name, ok := strings.Cut(line, " : "); ok {
				p.failed = name
			}
		}
		fmt.Fprintf(p.log, "%s\n", line)
	}
}

func (p *progress) flush() {
	if p.partial != "" {
		fmt.Fprintf(p.log, "%s\n", p.partial)
		p.partial = ""
	}
}

// trace shows one BuildKit StatusResponse (moby/buildkit's control.proto):
// field 1 vertexes, 3 logs. Statuses (2, per-layer transfer counters) and
// warnings (4) are not shown.
func (p *progress) trace(b []byte) error {
	return fields(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			return p.vertex(v)
		case 3:
			return p.vertexLog(v)
		}
		return nil
	})
}

// vertex handles a Vertex: 1 digest, 3 name, 4 cached, 5 started,
// 6 completed, 7 error.
func (p *progress) vertex(b []byte) error {
	var digest, name, errMsg string
	var cached, started, completed bool
	var start, end time.Time
	err := fields(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			digest = string(v)
		case 3:
			name = string(v)
		case 4:
			cached = len(v) > 0 && v[0] != 0
		case 5:
			started, start = true, timestamp(v)
		case 6:
			completed, end = true, timestamp(v)
		case 7:
			errMsg = string(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s := p.step(digest, name)
	if (started || cached) && !s.started {
		s.started = true
		fmt.Fprintf(p.log, "#%d %s\n", s.n, s.name)
	}
	if !completed || s.completed {
		return nil
	}
	s.completed = true
	switch {
	case errMsg != "":
		p.failed = s.name
		fmt.Fprintf(p.log, "#%d ERROR: %s\n", s.n, errMsg)
	case cached:
		fmt.Fprintf(p.log, "#%d CACHED\n", s.n)
	default:
		fmt.Fprintf(p.log, "#%d DONE %.1fs\n", s.n, end.Sub(start).Seconds())
	}
	return nil
}

// vertexLog handles a VertexLog: 1 vertex digest, 4 msg (what a RUN
// step printed).
func (p *progress) vertexLog(b []byte) error {
	var digest string
	var msg []byte
	err := fields(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			digest = string(v)
		case 4:
			msg = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	s := p.step(digest, "")
	for _, line := range bytes.SplitAfter(msg, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		fmt.Fprintf(p.log, "#%d %s", s.n, line)
		if line[len(line)-1] != '\n' {
			fmt.Fprintln(p.log)
		}
	}
	return nil
}

func (p *progress) step(digest, name string) *step {
	s := p.steps[digest]
	if s == nil {
		s = &step{n: len(p.steps) + 1}
		p.steps[digest] = s
	}
	if name != "" {
		s.name = name
	}
	return s
}

// fields calls fn with each field of a protobuf message: the bytes of a
// length-delimited field, or the varint's low byte for a varint (enough
// for the booleans read here). Other wire types are skipped.
func fields(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("read the build's progress: %w", protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			var x uint64
			x, n = protowire.ConsumeVarint(b)
			v = []byte{byte(min(x, 1))}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("read the build's progress: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if v == nil {
			continue
		}
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}

// timestamp reads a google.protobuf.Timestamp: 1 seconds, 2 nanos.
func timestamp(b []byte) time.Time {
	var sec, nsec uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.VarintType {
			break
		}
		b = b[n:]
		x, n := protowire.ConsumeVarint(b)
		if n < 0 {
			break
		}
		b = b[n:]
		switch num {
		case 1:
			sec = x
		case 2:
			nsec = x
		}
	}
	return time.Unix(int64(sec), int64(nsec))
}

// StepError is a build that failed: the engine's message and the
// Dockerfile step it failed in, when known.
type StepError struct {
	// Step is the step as the builder names it ("[3/4] RUN make").
	Step string
	// Msg is the engine's message.
	Msg string
}

func (e *StepError) Error() string {
	if e.Step == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s: %s", e.Step, e.Msg)
}
