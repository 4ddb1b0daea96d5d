package intrinsic

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// evalStringSplit splits at every character of the delimiter argument and
// drops empty parts.
func evalStringSplit(_ *Call, args []any) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("the first argument must be a string, got %s", describe(args[0]))
	}
	delims, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("the delimiter must be a string, got %s", describe(args[1]))
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func evalUUID(_ *Call, _ []any) (any, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("no randomness for a UUID: %v", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
