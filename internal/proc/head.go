package proc

import (
	"bytes"
	"errors"
)

// Head keeps the first Limit bytes written to it (8 KiB when Limit is 0)
// and drops the rest: enough of a child's stderr for an error message,
// without letting a chatty child grow memory without bound.
type Head struct {
	bytes.Buffer
	Limit int
}

func (h *Head) Write(p []byte) (int, error) {
	limit := h.Limit
	if limit <= 0 {
		limit = 8 << 10
	}
	if room := limit - h.Len(); room > 0 {
		h.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// ExitCode is the exit status err reports (an *ExitError), or -1 when
// err is not one: the child did not start, was killed by a signal, or
// err is nil.
func ExitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}
