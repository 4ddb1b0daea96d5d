package yamllimit

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// NameMaxSize is the name of a definition file's size limit, which each
// kind of definition sets (spec.MaxFileSize, asl.MaxDefinitionSize).
const NameMaxSize = "max definition size"

// SizeError is a definition larger than its limit: reading it whole
// before parsing is already what a huge file makes costly (100 MB of
// velocity.yml took 3.2 GB to parse), so it is refused unparsed.
type SizeError struct {
	Max       int64
	Line, Col int // where the first byte past Max stands
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("the definition is larger than %d bytes (limit %q is %d bytes); split it or move data out of it",
		e.Max, NameMaxSize, e.Max)
}

// ReadFile reads the file at path, reading no more than maxBytes+1 bytes
// of it: a larger file gives a *SizeError and no content.
func ReadFile(path string, maxBytes int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if err := CheckSize(data, maxBytes); err != nil {
		return nil, err
	}
	return data, nil
}

// CheckSize returns a *SizeError when src is longer than maxBytes.
func CheckSize(src []byte, maxBytes int64) error {
	if int64(len(src)) <= maxBytes {
		return nil
	}
	head := src[:maxBytes]
	line := bytes.Count(head, []byte("\n")) + 1
	col := utf8.RuneCount(head[bytes.LastIndexByte(head, '\n')+1:]) + 1
	return &SizeError{Max: maxBytes, Line: line, Col: col}
}
