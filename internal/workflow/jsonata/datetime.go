package jsonata

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// fromMillis is $fromMillis. Without a picture it writes ISO 8601 with
// milliseconds in UTC. Pictures support the numeric components
// [Y] [M] [D] [H] [h] [m] [s] [f] [Z] [P] with zero-padded widths; named
// forms (month and day names, words, ordinals) are not implemented yet.
func fromMillis(ms float64, picture, tz any, pos int) (any, error) {
	t := millisTime(ms)
	offset := 0
	if z, ok := tz.(string); ok && len(z) == 5 {
		h, _ := strconv.Atoi(z[1:3])
		m, _ := strconv.Atoi(z[3:5])
		offset = h*60 + m
		if z[0] == '-' {
			offset = -offset
		}
		t = t.In(time.FixedZone("", offset*60))
	}
	p, ok := picture.(string)
	if !ok {
		if offset == 0 {
			return t.Format("2006-01-02T15:04:05.000Z"), nil
		}
		return t.Format("2006-01-02T15:04:05.000-07:00"), nil
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == ']' && i+1 < len(p) && p[i+1] == ']' {
			b.WriteByte(']')
			i++
			continue
		}
		if c != '[' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(p) && p[i+1] == '[' {
			b.WriteByte('[')
			i++
			continue
		}
		end := strings.IndexByte(p[i:], ']')
		if end < 0 {
			return nil, newError("D3135", pos, "No matching closing bracket ']' in date/time picture string")
		}
		marker := strings.ReplaceAll(p[i+1:i+end], " ", "")
		i += end
		if marker == "" {
			continue
		}
		comp, pres := marker[0], marker[1:]
		mod := ""
		if k := strings.IndexByte(pres, ','); k >= 0 {
			pres, mod = pres[:k], pres[k+1:]
		}
		if name, ok := dateName(t, comp, pres, mod); ok {
			b.WriteString(name)
			continue
		}
		var v int
		switch comp {
		case 'Y':
			v = t.Year()
		case 'M':
			v = int(t.Month())
		case 'D':
			v = t.Day()
		case 'd':
			v = t.YearDay()
		case 'H':
			v = t.Hour()
		case 'h':
			v = t.Hour() % 12
			if v == 0 {
				v = 12
			}
		case 'm':
			v = t.Minute()
		case 's':
			v = t.Second()
		case 'f':
			v = t.Nanosecond() / 1e6
			if pres == "" {
				pres = "001"
			}
		case 'P':
			if t.Hour() < 12 {
				b.WriteString("am")
			} else {
				b.WriteString("pm")
			}
			continue
		case 'Z', 'z':
			sign := "+"
			o := offset
			if o < 0 {
				sign, o = "-", -o
			}
			if comp == 'z' {
				b.WriteString("GMT")
			}
			fmt.Fprintf(&b, "%s%02d:%02d", sign, o/60, o%60)
			continue
		default:
			return nil, newError("D3133", pos, "Unsupported date/time component %q in picture", string(comp))
		}
		if pres == "" && (comp == 'm' || comp == 's') {
			pres = "01" // the XPath default for minutes and seconds
		}
		ordinal := strings.HasSuffix(pres, "o") && len(pres) > 1
		if ordinal {
			pres = strings.TrimSuffix(pres, "o")
		}
		if strings.HasPrefix(pres, "w") || strings.HasPrefix(pres, "W") {
			b.WriteString(casePresentation(numberWords(v, ordinal), pres))
			continue
		}
		if strings.Trim(pres, "0123456789#") != "" {
			return nil, newError("D3133", pos, "Unsupported presentation %q in date/time picture (only numeric forms are implemented)", pres)
		}
		width := strings.Count(pres, "0") + strings.Count(pres, "1") + strings.Count(pres, "2") + strings.Count(pres, "3") + strings.Count(pres, "4") + strings.Count(pres, "5") + strings.Count(pres, "6") + strings.Count(pres, "7") + strings.Count(pres, "8") + strings.Count(pres, "9")
		s := strconv.Itoa(v)
		if comp == 'f' {
			s = fmt.Sprintf("%03d", v)[:max(1, min(3, width))]
		} else if comp == 'Y' && (width == 2 || widthLimit(mod) == 2 || mod == "2") {
			s = fmt.Sprintf("%02d", v%100)
		} else {
			for len(s) < width {
				s = "0" + s
			}
		}
		b.WriteString(s)
		if ordinal {
			b.WriteString(ordinalSuffix(v))
		}
	}
	return b.String(), nil
}

// dateName writes a month or weekday by name: [MNn], [FN,*-3].
func dateName(t time.Time, comp byte, pres, mod string) (string, bool) {
	if !strings.HasPrefix(pres, "N") && !strings.HasPrefix(pres, "n") && !(comp == 'F' && pres == "") {
		return "", false
	}
	var name string
	switch comp {
	case 'M':
		name = monthNames[t.Month()-1]
	case 'F':
		name = dayNames[t.Weekday()]
		if pres == "" {
			pres = "n"
		}
	default:
		return "", false
	}
	if w := widthLimit(mod); w > 0 && w < len(name) {
		name = name[:w]
	}
	return casePresentation(name, pres), true
}

// toMillis is $toMillis: ISO 8601 text without a picture; with a picture,
// the numeric components [Y] [M] [D] [H] [m] [s] [f].
func toMillis(s string, picture any, pos int) (any, error) {
	if p, ok := picture.(string); ok {
		return parseWithPicture(s, p, pos)
	}
	layouts := []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02", "2006-01", "2006"}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return float64(t.UnixMilli()), nil
		}
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999Z0700", s); err == nil {
		return float64(t.UnixMilli()), nil
	}
	return nil, newError("D3110", pos, "The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given %q", s)
}

func parseWithPicture(s, p string, pos int) (any, error) {
	vals := map[byte]int{'Y': 1970, 'M': 1, 'D': 1}
	si := 0
	for i := 0; i < len(p); i++ {
		if p[i] != '[' {
			if si < len(s) && s[si] == p[i] {
				si++
				continue
			}
			return Undefined, nil
		}
		end := strings.IndexByte(p[i:], ']')
		if end < 0 {
			return nil, newError("D3135", pos, "No matching closing bracket ']' in date/time picture string")
		}
		comp := p[i+1]
		i += end
		j := si
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == si {
			return Undefined, nil
		}
		n, _ := strconv.Atoi(s[si:j])
		vals[comp] = n
		si = j
	}
	t := time.Date(vals['Y'], time.Month(vals['M']), vals['D'], vals['H'], vals['m'], vals['s'], vals['f']*1e6, time.UTC)
	return float64(t.UnixMilli()), nil
}

var romans = []struct {
	v int
	s string
}{{1000, "M"}, {900, "CM"}, {500, "D"}, {400, "CD"}, {100, "C"}, {90, "XC"}, {50, "L"}, {40, "XL"}, {10, "X"}, {9, "IX"}, {5, "V"}, {4, "IV"}, {1, "I"}}

// fnFormatInteger is $formatInteger for decimal pictures and roman
// numerals; words are not implemented yet.
func fnFormatInteger(_ *evaluator, a []any, _ any, pos int) (any, error) {
	x, ok := num(a[0])
	if !ok {
		return Undefined, nil
	}
	pic, _ := a[1].(string)
	n := int(math.Floor(x))
	if strings.HasSuffix(pic, "o") {
		return nil, newError("D3130", pos, "Formatting or parsing an integer as a sequence starting with %q is not supported by this implementation", "o")
	}
	if pic == "w" || pic == "W" || pic == "Ww" {
		return casePresentation(numberWords(n, false), pic), nil
	}
	switch pic {
	case "I", "i":
		var b strings.Builder
		for _, r := range romans {
			for n >= r.v {
				b.WriteString(r.s)
				n -= r.v
			}
		}
		if pic == "i" {
			return strings.ToLower(b.String()), nil
		}
		return b.String(), nil
	}
	if strings.Trim(pic, "0123456789#,") != "" {
		return nil, newError("D3133", pos, "Picture %q of $formatInteger is not implemented", pic)
	}
	s := strconv.Itoa(n)
	width := strings.Count(pic, "0") + strings.Count(pic, "1")
	for len(s) < width {
		s = "0" + s
	}
	return s, nil
}

func fnParseInteger(_ *evaluator, a []any, _ any, pos int) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return Undefined, nil
	}
	pic, _ := a[1].(string)
	if pic == "w" || pic == "W" || pic == "Ww" {
		n, ok := wordsNumber(s)
		if !ok {
			return Undefined, nil
		}
		return float64(n), nil
	}
	if pic == "I" || pic == "i" {
		s = strings.ToUpper(s)
		n := 0
		for len(s) > 0 {
			found := false
			for _, r := range romans {
				if strings.HasPrefix(s, r.s) {
					n += r.v
					s = s[len(r.s):]
					found = true
					break
				}
			}
			if !found {
				return Undefined, nil
			}
		}
		return float64(n), nil
	}
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		return nil, newError("D3137", pos, "Picture %q of $parseInteger is not implemented for %q", pic, s)
	}
	return float64(n), nil
}
