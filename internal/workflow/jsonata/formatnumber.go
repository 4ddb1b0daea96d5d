package jsonata

import (
	"math"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// fnFormatNumber is $formatNumber, the XPath 3.1 picture language, ported
// from the reference step by step (its errors D3080-D3093 included).
// Strings are handled as runes where the reference indexes UTF-16 units;
// the two agree outside the astral planes.
func fnFormatNumber(_ *evaluator, a []any, _ any, pos int) (any, error) {
	value, ok := num(a[0])
	if !ok {
		return Undefined, nil
	}
	picture, _ := a[1].(string)
	props := map[string]string{
		"decimal-separator": ".", "grouping-separator": ",", "exponent-separator": "e",
		"infinity": "Infinity", "minus-sign": "-", "NaN": "NaN", "percent": "%",
		"per-mille": "\u2030", "zero-digit": "0", "digit": "#", "pattern-separator": ";",
	}
	if o, ok := a[2].(*jsonvalue.Object); ok {
		for _, m := range o.Members() {
			if v, ok := m.Value.(string); ok {
				props[m.Key] = v
			}
		}
	}
	first := func(k string) rune {
		for _, r := range props[k] {
			return r
		}
		return 0
	}
	zero := first("zero-digit")
	isDigit := func(r rune) bool { return r >= zero && r < zero+10 }
	decSep, grpSep, expSep := first("decimal-separator"), first("grouping-separator"), first("exponent-separator")
	digit, percent, perMille := first("digit"), first("percent"), first("per-mille")
	isActive := func(r rune) bool {
		return isDigit(r) || r == decSep || r == expSep || r == grpSep || r == digit || r == first("pattern-separator")
	}
	fail := func(code string) error {
		return newError(code, pos, "Invalid picture string %q for $formatNumber (%s)", picture, code)
	}
	subs := strings.Split(picture, props["pattern-separator"])
	if len(subs) > 2 {
		return nil, fail("D3080")
	}
	type parts struct {
		prefix, suffix, active, mantissa, integer, fraction, sub []rune
		exponent                                                 []rune
		hasExponent                                              bool
	}
	split := func(sp string) parts {
		s := []rune(sp)
		var p parts
		p.sub = s
		pi := -1
		for i, r := range s {
			if isActive(r) && r != expSep {
				pi = i
				break
			}
		}
		if pi < 0 {
			pi = len(s)
		}
		p.prefix = s[:pi]
		si := -1
		for i := len(s) - 1; i >= 0; i-- {
			if isActive(s[i]) && s[i] != expSep {
				si = i
				break
			}
		}
		p.suffix = s[si+1:]
		end := len(s) - len(p.suffix)
		if end < len(p.prefix) {
			end = len(p.prefix)
		}
		p.active = s[len(p.prefix):end]
		ep := runeIndex(s, expSep, len(p.prefix))
		if ep == -1 || ep > len(s)-len(p.suffix) {
			p.mantissa = p.active
		} else {
			// As the reference: positions in the whole sub-picture used on
			// the active part.
			p.mantissa = p.active[:min(ep, len(p.active))]
			if ep+1 <= len(p.active) {
				p.exponent = p.active[ep+1:]
			} else {
				p.exponent = []rune{}
			}
			p.hasExponent = true
		}
		dp := runeIndex(p.mantissa, decSep, 0)
		if dp == -1 {
			p.integer = p.mantissa
			p.fraction = p.suffix
		} else {
			p.integer = p.mantissa[:dp]
			p.fraction = p.mantissa[dp+1:]
		}
		return p
	}
	count := func(s []rune, f func(rune) bool) int {
		n := 0
		for _, r := range s {
			if f(r) {
				n++
			}
		}
		return n
	}
	validate := func(p parts) error {
		code := ""
		s := p.sub
		dp := runeIndex(s, decSep, 0)
		if dp != runeLastIndex(s, decSep) {
			code = "D3081"
		}
		if runeIndex(s, percent, 0) != runeLastIndex(s, percent) {
			code = "D3082"
		}
		if runeIndex(s, perMille, 0) != runeLastIndex(s, perMille) {
			code = "D3083"
		}
		if runeIndex(s, percent, 0) != -1 && runeIndex(s, perMille, 0) != -1 {
			code = "D3084"
		}
		if count(p.mantissa, func(r rune) bool { return isDigit(r) || r == digit }) == 0 {
			code = "D3085"
		}
		if count(p.active, func(r rune) bool { return !isActive(r) }) > 0 {
			code = "D3086"
		}
		if dp != -1 {
			if (dp > 0 && s[dp-1] == grpSep) || (dp+1 < len(s) && s[dp+1] == grpSep) {
				code = "D3087"
			}
		} else if len(p.integer) > 0 && p.integer[len(p.integer)-1] == grpSep {
			code = "D3088"
		}
		if strings.Contains(string(s), string([]rune{grpSep, grpSep})) {
			code = "D3089"
		}
		if od := runeIndex(p.integer, digit, 0); od != -1 && count(p.integer[:od], isDigit) > 0 {
			code = "D3090"
		}
		if od := runeLastIndex(p.fraction, digit); od != -1 && count(p.fraction[od:], isDigit) > 0 {
			code = "D3091"
		}
		if p.hasExponent && len(p.exponent) > 0 && (runeIndex(s, percent, 0) != -1 || runeIndex(s, perMille, 0) != -1) {
			code = "D3092"
		}
		if p.hasExponent && (len(p.exponent) == 0 || count(p.exponent, func(r rune) bool { return !isDigit(r) }) > 0) {
			code = "D3093"
		}
		if code != "" {
			return fail(code)
		}
		return nil
	}
	type analysed struct {
		groupPositions, fracGroupPositions []int
		regular                            int
		minInt, scaling, minFrac, maxFrac  int
		minExp                             int
		prefix, suffix, picture            []rune
	}
	groupingPositions := func(part, integer []rune, toLeft bool) []int {
		var out []int
		gp := runeIndex(part, grpSep, 0)
		for gp != -1 {
			var side []rune
			if toLeft {
				side = part[:gp]
			} else {
				side = part[gp:]
			}
			out = append(out, count(side, func(r rune) bool { return isDigit(r) || r == digit }))
			// The reference searches the integer part here, for both parts.
			gp = runeIndex(integer, grpSep, gp+1)
		}
		return out
	}
	analyse := func(p parts) analysed {
		var v analysed
		v.groupPositions = groupingPositions(p.integer, p.integer, false)
		v.regular = regularGrouping(v.groupPositions)
		v.fracGroupPositions = groupingPositions(p.fraction, p.integer, true)
		v.minInt = count(p.integer, isDigit)
		v.scaling = v.minInt
		v.minFrac = count(p.fraction, isDigit)
		v.maxFrac = count(p.fraction, func(r rune) bool { return isDigit(r) || r == digit })
		if v.minInt == 0 && v.maxFrac == 0 {
			if p.hasExponent {
				v.minFrac, v.maxFrac = 1, 1
			} else {
				v.minInt = 1
			}
		}
		if p.hasExponent && v.minInt == 0 && runeIndex(p.integer, digit, 0) != -1 {
			v.minInt = 1
		}
		if v.minInt == 0 && v.minFrac == 0 {
			v.minFrac = 1
		}
		if p.hasExponent {
			v.minExp = count(p.exponent, isDigit)
		}
		v.prefix, v.suffix, v.picture = p.prefix, p.suffix, p.sub
		return v
	}
	var vars []analysed
	for _, sp := range subs {
		p := split(sp)
		if err := validate(p); err != nil {
			return nil, err
		}
		vars = append(vars, analyse(p))
	}
	if len(vars) == 1 {
		neg := vars[0]
		neg.prefix = append([]rune(props["minus-sign"]), vars[0].prefix...)
		vars = append(vars, neg)
	}
	pic := vars[0]
	if value < 0 {
		pic = vars[1]
	}
	adjusted := value
	if runeIndex(pic.picture, percent, 0) != -1 {
		adjusted = value * 100
	} else if runeIndex(pic.picture, perMille, 0) != -1 {
		adjusted = value * 1000
	}
	mantissa := adjusted
	exponent, hasExp := 0, false
	if pic.minExp != 0 {
		hasExp = true
		maxM := math.Pow(10, float64(pic.scaling))
		minM := math.Pow(10, float64(pic.scaling-1))
		for mantissa < minM && mantissa != 0 {
			mantissa *= 10
			exponent--
		}
		for mantissa > maxM {
			mantissa /= 10
			exponent++
		}
	}
	rounded := roundHalfEven(mantissa, pic.maxFrac)
	makeString := func(v float64, dp int) []rune {
		s := strconv.FormatFloat(math.Abs(v), 'f', dp, 64)
		out := []rune(s)
		if zero != '0' {
			for i, r := range out {
				if r >= '0' && r <= '9' {
					out[i] = zero + (r - '0')
				}
			}
		}
		return out
	}
	sv := makeString(rounded, pic.maxFrac)
	if d := runeIndex(sv, '.', 0); d == -1 {
		sv = append(sv, decSep)
	} else {
		sv[d] = decSep
	}
	for len(sv) > 0 && sv[0] == zero {
		sv = sv[1:]
	}
	for len(sv) > 0 && sv[len(sv)-1] == zero {
		sv = sv[:len(sv)-1]
	}
	dp := runeIndex(sv, decSep, 0)
	if padLeft := pic.minInt - dp; padLeft > 0 {
		sv = append([]rune(strings.Repeat(string(zero), padLeft)), sv...)
	}
	if padRight := pic.minFrac - (len(sv) - dp - 1); padRight > 0 {
		sv = append(sv, []rune(strings.Repeat(string(zero), padRight))...)
	}
	insert := func(s []rune, at int, r rune) []rune {
		out := make([]rune, 0, len(s)+1)
		out = append(out, s[:at]...)
		out = append(out, r)
		return append(out, s[at:]...)
	}
	dp = runeIndex(sv, decSep, 0)
	if pic.regular > 0 {
		groups := (dp - 1) / pic.regular
		for g := 1; g <= groups; g++ {
			sv = insert(sv, dp-g*pic.regular, grpSep)
		}
	} else {
		for _, p := range pic.groupPositions {
			if at := dp - p; at >= 0 && at <= len(sv) {
				sv = insert(sv, at, grpSep)
			}
			dp++
		}
	}
	dp = runeIndex(sv, decSep, 0)
	for _, p := range pic.fracGroupPositions {
		if at := p + dp + 1; at <= len(sv) {
			sv = insert(sv, at, grpSep)
		}
	}
	dp = runeIndex(sv, decSep, 0)
	if runeIndex(pic.picture, decSep, 0) == -1 || dp == len(sv)-1 {
		sv = sv[:len(sv)-1]
	}
	out := string(sv)
	if hasExp {
		se := string(makeString(float64(exponent), 0))
		if pad := pic.minExp - len([]rune(se)); pad > 0 {
			se = strings.Repeat(string(zero), pad) + se
		}
		sign := ""
		if exponent < 0 {
			sign = props["minus-sign"]
		}
		out += props["exponent-separator"] + sign + se
	}
	return string(pic.prefix) + out + string(pic.suffix), nil
}

func regularGrouping(idx []int) int {
	if len(idx) == 0 {
		return 0
	}
	gcd := func(a, b int) int {
		for b != 0 {
			a, b = b, a%b
		}
		return a
	}
	f := idx[0]
	for _, x := range idx[1:] {
		f = gcd(f, x)
	}
	if f == 0 {
		return 0
	}
	for i := 1; i <= len(idx); i++ {
		found := false
		for _, x := range idx {
			if x == i*f {
				found = true
			}
		}
		if !found {
			return 0
		}
	}
	return f
}

func runeIndex(s []rune, r rune, from int) int {
	for i := max(from, 0); i < len(s); i++ {
		if s[i] == r {
			return i
		}
	}
	return -1
}

func runeLastIndex(s []rune, r rune) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == r {
			return i
		}
	}
	return -1
}
