package web

import (
	"reflect"
	"testing"
)

func TestANSISpans(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       []span
	}{
		{"plain", "hello", []span{{Text: "hello"}}},
		{"empty", "", nil},
		{"red then reset", "\x1b[31mfail\x1b[0m ok", []span{{"ansi-fg-1", "fail"}, {"", " ok"}}},
		{"bold bright green", "\x1b[1;92mPASS\x1b[m", []span{{"ansi-fg-10 ansi-bold", "PASS"}}},
		{"bold off keeps colour", "\x1b[1;33mw\x1b[22mx", []span{{"ansi-fg-3 ansi-bold", "w"}, {"ansi-fg-3", "x"}}},
		{"background and default fg", "\x1b[41;37ma\x1b[39mb", []span{{"ansi-fg-7 ansi-bg-1", "a"}, {"ansi-bg-1", "b"}}},
		{"256 palette low", "\x1b[38;5;9mx", []span{{"ansi-fg-9", "x"}}},
		{"256 palette high is default", "\x1b[38;5;200;1mx", []span{{"ansi-bold", "x"}}},
		{"truecolour is default", "\x1b[38;2;10;20;30;4mx", []span{{"ansi-underline", "x"}}},
		{"cursor moves dropped", "a\x1b[2Kb\x1b[1Ac", []span{{Text: "abc"}}},
		{"title dropped", "\x1b]0;title\ax", []span{{Text: "x"}}},
		{"control characters dropped", "a\rb\x00c\td", []span{{Text: "abc\td"}}},
		{"truncated escape", "ok\x1b[3", []span{{Text: "ok"}}},
		{"markup stays text", "<script>x</script>", []span{{Text: "<script>x</script>"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ansiSpans(tc.line); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ansiSpans(%q) = %#v, want %#v", tc.line, got, tc.want)
			}
		})
	}
}
