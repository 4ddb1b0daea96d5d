package secret

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// refPatterns is what the Masker is documented to look for, written
// independently of maskPatterns.
func refPatterns(values [][]byte) [][]byte {
	var ps [][]byte
	for _, v := range values {
		if len(v) == 0 {
			continue
		}
		ps = append(ps, v)
		if !bytes.Contains(v, []byte("\n")) {
			continue
		}
		for _, line := range strings.Split(string(v), "\n") {
			if line = strings.TrimSpace(line); len(line) >= 4 {
				ps = append(ps, []byte(line))
			}
		}
	}
	return ps
}

// refMask is the specification, on the whole stream at once: every
// occurrence of every pattern is found; occurrences that share a byte
// form one stretch, and each stretch becomes one ***.
func refMask(stream []byte, values [][]byte) []byte {
	ps := refPatterns(values)
	type stretch struct{ start, end int }
	var found []stretch
	for i := range stream {
		for _, p := range ps {
			if bytes.HasPrefix(stream[i:], p) {
				found = append(found, stretch{i, i + len(p)})
			}
		}
	}
	var out []byte
	done := 0
	for i := 0; i < len(found); {
		s := found[i]
		for i++; i < len(found) && found[i].start < s.end; i++ {
			s.end = max(s.end, found[i].end)
		}
		out = append(out, stream[done:s.start]...)
		out = append(out, mask...)
		done = s.end
	}
	return append(out, stream[done:]...)
}

// hasBorder reports whether v overlaps itself (a proper prefix that is
// also a suffix), the only case where a single value is masked unlike
// bytes.ReplaceAll.
func hasBorder(v []byte) bool {
	for n := 1; n < len(v); n++ {
		if bytes.Equal(v[:n], v[len(v)-n:]) {
			return true
		}
	}
	return false
}

func longest(values [][]byte) int {
	n := 0
	for _, v := range values {
		n = max(n, len(v))
	}
	return n
}

// maskChunks writes chunks through a Masker, checking what every Write
// returns and how much it holds back, then flushes.
func maskChunks(t testing.TB, values [][]byte, chunks ...[]byte) string {
	t.Helper()
	var out bytes.Buffer
	m := NewMasker(&out, values)
	limit := max(longest(values)-1, 0)
	for _, c := range chunks {
		n, err := m.Write(c)
		if n != len(c) || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v", len(c), n, err)
		}
		if len(m.pend) > limit {
			t.Fatalf("holding back %d bytes, more than %d", len(m.pend), limit)
		}
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func bs(ss ...string) [][]byte {
	var b [][]byte
	for _, s := range ss {
		b = append(b, []byte(s))
	}
	return b
}

var maskCases = []struct {
	name   string
	values [][]byte
	in     string
	want   string
}{
	{"plain", bs("s3cr3t"), "token=s3cr3t; done", "token=***; done"},
	{"several", bs("s3cr3t", "pa55"), "pa55 s3cr3t pa55s3cr3t", "*** *** ******"},
	{"whole stream", bs("s3cr3t"), "s3cr3t", "***"},
	{"none", bs("s3cr3t"), "nothing to see s3cr3 3cr3t", "nothing to see s3cr3 3cr3t"},
	{"no values", nil, "s3cr3t", "s3cr3t"},
	{"empty values ignored", bs("", "ab", ""), "xaby", "x***y"},
	{"adjacent", bs("abc"), "abcabcabc", "*********"},
	{"one byte", bs("x"), "axbxx", "a***b******"},
	{"prefix-sharing", bs("abc", "abcdef"), "abcdef abcde abc abcdefg", "*** ***de *** ***g"},
	{"prefix-sharing reversed", bs("abcdef", "abc"), "abcdef abcde abc", "*** ***de ***"},
	{"suffix-sharing", bs("def", "abcdef"), "abcdef bcdef def", "*** bc*** ***"},
	{"inside another", bs("bcd", "abcde"), "abcde bcd abcd", "*** *** a***"},
	{"overlapping values", bs("abcd", "cdef"), "xabcdefx abcdcdef", "x***x ******"},
	{"overlap bridges touching", bs("ab", "cd", "bc"), "abcd", "***"},
	{"self-overlap", bs("aa"), "a aa aaa aaaa", "a *** *** ***"},
	{"self-overlap longer", bs("abab"), "ababab ababxabab", "*** ***x***"},
	{"near miss then match", bs("aab"), "aaab aaaab", "a*** aa***"},
	{"binary", bs("\x00\xff\x00"), "\x00\xff\x00\xff\x00 \x00\xff\x00\xff", "*** ***\xff"},
	{"multi-line value", bs("-----BEGIN KEY-----\n  MIIEabcd\n  xyz\n    \n  }\n-----END KEY-----\n"),
		"got: MIIEabcd and xyz\n    }\n-----END KEY-----\n",
		"got: *** and xyz\n    }\n***\n"},
	{"multi-line value whole", bs("line-one\nline-two"), "[line-one\nline-two]", "[***]"},
	{"multi-line value CRLF", bs("first-line\r\nsecond-line\r\n"), "> second-line\n> first-line\r\n", "> ***\n> ***\r\n"},
}

func TestMaskerCases(t *testing.T) {
	for _, c := range maskCases {
		t.Run(c.name, func(t *testing.T) {
			if got := maskChunks(t, c.values, []byte(c.in)); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
			if got := string(refMask([]byte(c.in), c.values)); got != c.want {
				t.Errorf("reference disagrees: %q", got)
			}
		})
	}
}

func TestMaskerSplitWrites(t *testing.T) {
	for _, c := range maskCases {
		in := []byte(c.in)
		for i := 0; i <= len(in); i++ {
			if got := maskChunks(t, c.values, in[:i], in[i:]); got != c.want {
				t.Fatalf("%s split at %d: got %q, want %q", c.name, i, got, c.want)
			}
			for j := i; j <= len(in); j++ {
				if got := maskChunks(t, c.values, in[:i], in[i:j], in[j:]); got != c.want {
					t.Fatalf("%s split at %d and %d: got %q, want %q", c.name, i, j, got, c.want)
				}
			}
		}
		var bytewise [][]byte
		for i := range in {
			bytewise = append(bytewise, in[i:i+1])
		}
		if got := maskChunks(t, c.values, bytewise...); got != c.want {
			t.Fatalf("%s byte by byte: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestMaskerInsideLongLine(t *testing.T) {
	secret := []byte("ghp_R4nd0mT0k3nV4lu3")
	line := bytes.Repeat([]byte("x"), 1<<20)
	for _, at := range []int{0, 1, 4095, 4096 - len(secret)/2, 500000, len(line) - len(secret)} {
		copy(line[at:], secret)
	}
	line = append(line, '\n')
	want := bytes.ReplaceAll(line, secret, []byte(mask))
	var chunks [][]byte
	for c := range pieces(line, 4096) {
		chunks = append(chunks, c)
	}
	if got := maskChunks(t, [][]byte{secret}, chunks...); got != string(want) {
		t.Fatalf("long line masked wrong (%d bytes out, want %d)", len(got), len(want))
	}
	if got := maskChunks(t, [][]byte{secret}, line); got != string(want) {
		t.Fatalf("long line in one write masked wrong (%d bytes out, want %d)", len(got), len(want))
	}
}

// pieces yields b in pieces of n bytes.
func pieces(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}

// The output of a Write must reach the log at once, apart from what could
// be the beginning of a secret.
func TestMaskerHoldsBackOnlyWhatCouldBeSecret(t *testing.T) {
	var out bytes.Buffer
	m := NewMasker(&out, bs("secret", "secret-longer"))
	step := func(in, want string) {
		t.Helper()
		if n, err := m.Write([]byte(in)); n != len(in) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if out.String() != want {
			t.Fatalf("after Write(%q): %q, want %q", in, out.String(), want)
		}
	}
	step("hello\n", "hello\n")
	step("the sec", "hello\nthe ")
	step("ret", "hello\nthe ")          // could still be secret-longer
	step("!", "hello\nthe ***!")        // it was not
	step(" s", "hello\nthe ***! ")      // could be either
	step("ex ", "hello\nthe ***! sex ") // neither
	step("secret-longer", "hello\nthe ***! sex ***")
	step("secret-lo", "hello\nthe ***! sex ***")
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "hello\nthe ***! sex ******-lo"; out.String() != want {
		t.Fatalf("after Flush: %q, want %q", out.String(), want)
	}

	// A value that ends the stream is masked by Flush.
	out.Reset()
	m = NewMasker(&out, bs("hunter2", "hunter2xyz"))
	m.Write([]byte("pass=hunter2"))
	if out.String() != "pass=" {
		t.Fatalf("before Flush: %q", out.String())
	}
	m.Flush()
	if out.String() != "pass=***" {
		t.Fatalf("after Flush: %q", out.String())
	}

	// A prefix of a secret that ends the stream comes out as it is.
	out.Reset()
	m = NewMasker(&out, bs("hunter2"))
	m.Write([]byte("pass=hunt"))
	m.Flush()
	if out.String() != "pass=hunt" {
		t.Fatalf("after Flush: %q", out.String())
	}
}

// Flush in the middle of a stream lets out what it holds; the rest of a
// secret straddling it is still masked.
func TestMaskerFlushMidStream(t *testing.T) {
	var out bytes.Buffer
	m := NewMasker(&out, bs("abcdef"))
	m.Write([]byte("x abc"))
	m.Flush()
	m.Write([]byte("def y abcdef abc"))
	m.Flush()
	m.Write([]byte("def"))
	m.Flush()
	if want := "x abc*** y *** abc***"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

// randomStream makes streams over a small alphabet, so that values occur
// often, overlap and share prefixes.
func randomStream(r *rand.Rand, alphabet string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

// randomChunks cuts b at random points, sometimes into single bytes.
func randomChunks(r *rand.Rand, b []byte, maxLen int) [][]byte {
	var chunks [][]byte
	for len(b) > 0 {
		n := min(1+r.IntN(maxLen), len(b))
		if r.IntN(4) == 0 {
			chunks = append(chunks, nil) // empty writes happen too
		}
		chunks = append(chunks, b[:n])
		b = b[n:]
	}
	return chunks
}

func TestMaskerRandomAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 3000 {
		alphabet := "ab\nc"[:2+r.IntN(3)]
		var values [][]byte
		for range 1 + r.IntN(4) {
			values = append(values, randomStream(r, alphabet, r.IntN(9)))
		}
		stream := randomStream(r, alphabet, r.IntN(3000))
		want := refMask(stream, values)
		got := maskChunks(t, values, randomChunks(r, stream, 1+r.IntN(64))...)
		if got != string(want) {
			t.Fatalf("iteration %d: values %q\nstream %q\ngot  %q\nwant %q", iter, values, stream, got, want)
		}
	}
}

func TestMaskerRandomAgainstReplaceAll(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tested := 0
	for tested < 200 {
		alphabet := "abc d\t"[:2+r.IntN(5)]
		value := randomStream(r, alphabet, 1+r.IntN(12))
		if hasBorder(value) {
			continue
		}
		tested++
		// Plant the value often, next to itself and cut short.
		var stream []byte
		for len(stream) < 50000 {
			switch r.IntN(4) {
			case 0:
				stream = append(stream, value...)
			case 1:
				stream = append(stream, value[:r.IntN(len(value))]...)
			default:
				stream = append(stream, randomStream(r, alphabet, r.IntN(40))...)
			}
		}
		want := bytes.ReplaceAll(stream, value, []byte(mask))
		got := maskChunks(t, [][]byte{value}, randomChunks(r, stream, 1+r.IntN(5000))...)
		if got != string(want) {
			t.Fatalf("value %q: output differs from bytes.ReplaceAll", value)
		}
	}
}

func FuzzMasker(f *testing.F) {
	for _, c := range maskCases {
		var v1, v2 []byte
		if len(c.values) > 0 {
			v1 = c.values[0]
		}
		if len(c.values) > 1 {
			v2 = c.values[1]
		}
		f.Add([]byte(c.in), v1, v2, uint64(len(c.in)))
	}
	f.Add([]byte("aaaaaaaaaaaaaaaaab"), []byte("aab"), []byte("ab"), uint64(7))
	f.Fuzz(func(t *testing.T, stream, v1, v2 []byte, seed uint64) {
		if len(v1) > 64 || len(v2) > 64 || len(stream) > 1<<14 {
			return // the reference is quadratic
		}
		values := [][]byte{v1, v2}
		r := rand.New(rand.NewPCG(seed, seed>>32))
		got := maskChunks(t, values, randomChunks(r, stream, 1+int(seed%97))...)
		if want := refMask(stream, values); got != string(want) {
			t.Fatalf("values %q\nstream %q\ngot  %q\nwant %q", values, stream, got, want)
		}
		if len(v2) == 0 && len(v1) > 0 && !hasBorder(v1) && !bytes.Contains(v1, []byte("\n")) {
			if want := bytes.ReplaceAll(stream, v1, []byte(mask)); got != string(want) {
				t.Fatalf("value %q\nstream %q\ngot           %q\nbytes.ReplaceAll %q", v1, stream, got, want)
			}
		}
	})
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestMaskerWriteError(t *testing.T) {
	m := NewMasker(&failWriter{n: 1}, bs("secret"))
	if n, err := m.Write([]byte("one\n")); n != 4 || err != nil {
		t.Fatalf("first Write = %d, %v", n, err)
	}
	if _, err := m.Write([]byte("two\n")); err == nil {
		t.Fatal("second Write did not fail")
	}
	if _, err := m.Write([]byte("three\n")); err == nil || err.Error() != "disk full" {
		t.Fatalf("Write after a failure: %v", err)
	}
	if err := m.Flush(); err == nil {
		t.Fatal("Flush after a failure did not fail")
	}

	short := NewMasker(writerFunc(func(p []byte) (int, error) { return len(p) / 2, nil }), nil)
	if _, err := short.Write([]byte("abcd")); err == nil {
		t.Fatal("short write not reported")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// An action and its sidecars write to the same Masker at once.
func TestMaskerConcurrentWriters(t *testing.T) {
	var out bytes.Buffer
	m := NewMasker(&out, bs("t0p-s3cr3t"))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(m, "writer %d line %d token=t0p-s3cr3t\n", g, i)
			}
		})
	}
	wg.Wait()
	m.Flush()
	if strings.Contains(out.String(), "s3cr3t") || strings.Count(out.String(), "token=***\n") != 1600 {
		t.Fatalf("concurrent writes masked wrong")
	}
}

func TestMaskerWriteDoesNotAllocate(t *testing.T) {
	m := NewMasker(&bytes.Buffer{}, bs("s3cr3t-value", "another-s3cr3t"))
	chunk := []byte("some ordinary output with s3cr3t-value inside and another-s3cr3t, then a split s3cr3t-va")
	m.Write(chunk) // warm up the buffers
	m.w = writerFunc(func(p []byte) (int, error) { return len(p), nil })
	if n := testing.AllocsPerRun(100, func() { m.Write(chunk) }); n != 0 {
		t.Errorf("Write allocates %v times", n)
	}
}

func BenchmarkMasker(b *testing.B) {
	line := []byte("2024-05-01T12:00:00Z INFO compiling package github.com/example/project/internal/thing ok\n")
	chunk := bytes.Repeat(line, 4096/len(line))
	m := NewMasker(writerFunc(func(p []byte) (int, error) { return len(p), nil }),
		bs("ghp_R4nd0mT0k3nV4lu3", "hunter2", "-----BEGIN KEY-----\nMIIEabcdefgh\n-----END KEY-----"))
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		m.Write(chunk)
	}
}
