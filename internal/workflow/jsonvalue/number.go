package jsonvalue

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// CanonicalNumber writes n the way Step Functions' JSON reader and writer
// (Java's Jackson) do: an integer that fits in 64 bits as plain digits
// (-0 is 0), any other number as a double in Java's notation: 1.5 for
// 1.50, 100.0 for 1e2, 1.0E21 for 1e21. Text that is not a number is
// returned unchanged.
func CanonicalNumber(n json.Number) json.Number {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if len(s) < 19 && s != "-0" && !strings.HasPrefix(s, "-0") && (len(s) == 1 || s[0] != '0') {
			return n // already canonical: the common case costs nothing
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return n
	}
	return json.Number(javaDouble(f))
}

// javaDouble formats f as Java's Double.toString: the shortest digits that
// read back as f, in plain notation from 10^-3 up to 10^7 and in
// computerized scientific notation outside it, always with a fraction.
func javaDouble(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if abs := math.Abs(f); abs >= 1e-3 && abs < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1.2345e+21
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// CanonicalNumbers rewrites, in place, every number inside v with
// CanonicalNumber and returns v (a bare number is returned rewritten).
// It is meant for values just built, which nothing else holds yet.
func CanonicalNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		return CanonicalNumber(x)
	case []any:
		for i := range x {
			x[i] = CanonicalNumbers(x[i])
		}
	case *Object:
		for i := range x.members {
			switch e := x.members[i].Value.(type) {
			case json.Number, []any, *Object:
				x.members[i].Value = CanonicalNumbers(e)
			}
		}
	}
	return v
}
