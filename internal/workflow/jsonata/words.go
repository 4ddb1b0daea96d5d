package jsonata

import (
	"strconv"
	"strings"
)

var (
	smallWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
		"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	tensWords   = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
	scaleWords  = []string{"", "thousand", "million", "billion", "trillion"}
	ordinalWord = map[string]string{"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
	monthNames  = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	dayNames    = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

// numberWords writes n in English words as the reference does:
// "one hundred and five", "forty-two", "one thousand, two hundred".
func numberWords(n int, ordinal bool) string {
	if n < 0 {
		return "minus " + numberWords(-n, ordinal)
	}
	w := wordsBelowScale(n, 0)
	if ordinal {
		parts := strings.FieldsFunc(w, func(r rune) bool { return r == ' ' || r == '-' })
		last := parts[len(parts)-1]
		ord, ok := ordinalWord[last]
		switch {
		case ok:
		case strings.HasSuffix(last, "y"):
			ord = strings.TrimSuffix(last, "y") + "ieth"
		default:
			ord = last + "th"
		}
		w = w[:len(w)-len(last)] + ord
	}
	return w
}

func wordsBelowScale(n, scale int) string {
	switch {
	case n < 20:
		return smallWords[n]
	case n < 100:
		if n%10 == 0 {
			return tensWords[n/10]
		}
		return tensWords[n/10] + "-" + smallWords[n%10]
	case n < 1000:
		w := smallWords[n/100] + " hundred"
		if n%100 != 0 {
			w += " and " + wordsBelowScale(n%100, 0)
		}
		return w
	}
	var groups []string
	for s := 0; n > 0 && s < len(scaleWords); s++ {
		g := n % 1000
		n /= 1000
		if g == 0 {
			continue
		}
		w := wordsBelowScale(g, 0)
		if s > 0 {
			w += " " + scaleWords[s]
		}
		groups = append([]string{w}, groups...)
	}
	out := groups[0]
	for _, g := range groups[1:] {
		if !strings.Contains(g, "hundred") && !strings.Contains(g, "thousand") && !strings.Contains(g, "million") && !strings.Contains(g, "billion") {
			out += " and " + g
		} else {
			out += ", " + g
		}
	}
	return out
}

// wordsNumber reads English number words back, for $parseInteger.
func wordsNumber(s string) (int, bool) {
	values := map[string]int{}
	for i, w := range smallWords {
		values[w] = i
	}
	for i, w := range tensWords {
		if w != "" {
			values[w] = i * 10
		}
	}
	total, current := 0, 0
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ' ' || r == '-' || r == ',' }) {
		switch w {
		case "and":
		case "hundred":
			current *= 100
		case "thousand", "million", "billion", "trillion":
			scale := 1000
			for i := 2; scaleWords[i-1] != w; i++ {
				scale *= 1000
			}
			total += current * scale
			current = 0
		default:
			v, ok := values[w]
			if !ok {
				return 0, false
			}
			current += v
		}
	}
	return total + current, true
}

func ordinalSuffix(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return "th"
	case n%10 == 1:
		return "st"
	case n%10 == 2:
		return "nd"
	case n%10 == 3:
		return "rd"
	}
	return "th"
}

// casePresentation applies N (upper), n (lower) or Nn (title) to a name.
func casePresentation(name, pres string) string {
	switch {
	case strings.HasPrefix(pres, "Nn"), strings.HasPrefix(pres, "Ww"):
		words := strings.Split(name, " ")
		for i, w := range words {
			if w != "" && w != "and" {
				words[i] = strings.ToUpper(w[:1]) + w[1:]
			}
		}
		return strings.Join(words, " ")
	case strings.HasPrefix(pres, "N"), strings.HasPrefix(pres, "W"):
		return strings.ToUpper(name)
	}
	return strings.ToLower(name)
}

// widthLimit reads the maximum width of a ",min-max" modifier, 0 if none.
func widthLimit(mod string) int {
	_, maxw, ok := strings.Cut(mod, "-")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(maxw)
	return n
}
