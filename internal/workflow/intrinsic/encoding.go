package intrinsic

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"unicode/utf8"
)

func evalBase64Encode(_ *Call, args []any) (any, error) {
	s, err := limitedString(args[0], maxEncodeChars)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// evalBase64Decode decodes strictly, as a standard Base64 decoder does:
// only the standard alphabet, padding optional but exact when present and
// only at the end, no spaces or line breaks. Text that is not Base64
// fails the call instead of decoding to whatever its stray characters
// leave.
func evalBase64Decode(_ *Call, args []any) (any, error) {
	s, err := limitedString(args[0], maxEncodeChars)
	if err != nil {
		return nil, err
	}
	// The decoders of encoding/base64 skip line breaks; Base64 text with
	// them is not one Base64 string.
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return nil, fmt.Errorf("the argument is not valid Base64: a line break at offset %d", i)
	}
	enc := base64.RawStdEncoding
	if strings.Contains(s, "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("the argument is not valid Base64: %w", err)
	}
	return string(b), nil
}

func evalHash(_ *Call, args []any) (any, error) {
	data, ok := args[0].(string)
	if !ok {
		// A non-string value is hashed as its JSON text.
		s, err := encode(args[0])
		if err != nil {
			return nil, err
		}
		data = s
	}
	if n := utf8.RuneCountInString(data); n > maxHashChars {
		return nil, fmt.Errorf("the data to hash has %d characters; at most %d are allowed", n, maxHashChars)
	}
	alg, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("the algorithm must be a string, got %s", describe(args[1]))
	}
	sum, ok := HashHex(alg, data)
	if !ok {
		return nil, fmt.Errorf("the algorithm %q is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512", alg)
	}
	return sum, nil
}

// HashHex is data's digest by one of the algorithms Step Functions names
// (MD5, SHA-1, SHA-256, SHA-384, SHA-512), in lower-case hex; ok is false
// for any other name. States.Hash and JSONata's $hash share it.
func HashHex(algorithm, data string) (sum string, ok bool) {
	var h hash.Hash
	switch algorithm {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return "", false
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), true
}
