package secret

import (
	"fmt"
	"io"
	"log/slog"
)

// Value is a secret's value that does not show itself: fmt (every verb,
// %#v included), log/slog and encoding/json all print [REDACTED]. Convert
// it to []byte or string on purpose where the value is really needed.
type Value []byte

const redacted = "[REDACTED]"

var (
	_ slog.LogValuer = Value(nil)
	_ fmt.Stringer   = Value(nil)
	_ fmt.GoStringer = Value(nil)
	_ fmt.Formatter  = Value(nil)
)

// LogValue keeps the value out of slog records, whatever the handler.
func (Value) LogValue() slog.Value { return slog.StringValue(redacted) }

// String returns [REDACTED].
func (Value) String() string { return redacted }

// GoString returns [REDACTED].
func (Value) GoString() string { return redacted }

// Format is needed besides String because fmt prints a byte slice's
// contents for verbs such as %d and %c without asking String.
func (Value) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// MarshalText keeps the value out of JSON (and slog's JSON handler) when
// it sits in a struct that is marshalled whole; a plain []byte would come
// out as base64 of the secret.
func (Value) MarshalText() ([]byte, error) { return []byte(redacted), nil }
