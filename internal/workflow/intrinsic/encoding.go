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
	"unicode/utf8"
)

func evalBase64Encode(_ *Call, args []any) (any, error) {
	s, err := limitedString(args[0], maxEncodeChars)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// evalBase64Decode decodes leniently, as Step Functions does: characters
// outside the Base64 alphabets are skipped, decoding stops at padding, and
// missing padding is accepted (AWS decodes "abc" and "!!!invalid!!!").
func evalBase64Decode(_ *Call, args []any) (any, error) {
	s, err := limitedString(args[0], maxEncodeChars)
	if err != nil {
		return nil, err
	}
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '=' {
			break
		}
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '-':
			clean = append(clean, '+')
		case c == '_':
			clean = append(clean, '/')
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1] // a lone character holds no whole byte
	}
	b, err := base64.RawStdEncoding.DecodeString(string(clean))
	if err != nil {
		return nil, fmt.Errorf("the argument is not valid Base64: %v", err)
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
	var h hash.Hash
	switch alg {
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
		return nil, fmt.Errorf("the algorithm %q is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512", alg)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}
