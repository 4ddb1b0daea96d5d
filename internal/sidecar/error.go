package sidecar

import (
	"strconv"
	"strings"
)

// tailLines is how much of a failed sidecar's output an error carries:
// enough for a stack trace's head or a config error, short enough to read.
const tailLines = 20

// StartError is a sidecar that did not become ready.
type StartError struct {
	// Sidecar is the sidecar's name.
	Sidecar string
	// Err says why, e.g. "exited with code 3 before becoming ready".
	Err error
	// Output holds the sidecar's last output lines (at most 20).
	Output []string
}

func (e *StartError) Error() string {
	var b strings.Builder
	b.WriteString("sidecar ")
	b.WriteString(strconv.Quote(e.Sidecar))
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if len(e.Output) == 0 {
		b.WriteString("; it printed nothing")
		return b.String()
	}
	b.WriteString("; its last output:")
	for _, l := range e.Output {
		b.WriteString("\n    ")
		b.WriteString(l)
	}
	return b.String()
}

func (e *StartError) Unwrap() error { return e.Err }
