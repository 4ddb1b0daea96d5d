package netport_test

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/netport"
)

// freeRange finds n consecutive ports nothing listens on, for a test's
// own range.
func freeRange(t *testing.T, n int) netport.Range {
	t.Helper()
	for low := 42000; low < 60000; low += n {
		ok := true
		for p := low; p < low+n && ok; p++ {
			ok = !netport.Taken(p)
		}
		if ok {
			return netport.Range{Low: low, High: low + n - 1, Source: "--port-range"}
		}
	}
	t.Fatal("no free range")
	return netport.Range{}
}

func TestPickStaysInRangeAndSkipsBusyPorts(t *testing.T) {
	r := freeRange(t, 4)
	// Another program listens on the second port.
	busy, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(r.Low+1))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var p netport.Picker
	ports, err := p.Pick(r, 3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, port := range ports {
		if !r.Contains(port) || port == r.Low+1 || seen[port] {
			t.Errorf("picked %v from %s with %d busy", ports, r, r.Low+1)
		}
		seen[port] = true
	}
	// Every port is handed out or busy now: the range is full, and the
	// error says which range, where it was set and why.
	_, err = p.Pick(r, 1)
	var full *netport.FullError
	if !errors.As(err, &full) {
		t.Fatalf("pick from a full range: %v", err)
	}
	for _, want := range []string{"no free port in port range " + r.String() + " (--port-range)", "3 are used by Velocity", "1 by other programs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// A released port comes back.
	p.Release(ports[1])
	again, err := p.Pick(r, 1)
	if err != nil || again[0] != ports[1] {
		t.Errorf("after release: %v, %v; want %d", again, err, ports[1])
	}
}

func TestPickNeverHandsOutAHeldPort(t *testing.T) {
	var p netport.Picker
	seen := map[int]bool{}
	for range 50 {
		ports, err := p.Pick(netport.Range{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if seen[ports[0]] {
			t.Fatalf("port %d handed out twice", ports[0])
		}
		seen[ports[0]] = true
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"41000-41009":     "41000-41009",
		"41000":           "41000-41000",
		" 41000 - 41001 ": "41000-41001",
	} {
		r, err := netport.Parse(in, "")
		if err != nil || r.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %s", in, r, err, want)
		}
	}
	for in, want := range map[string]string{
		"41009-41000": "above the high one",
		"80-90":       "between 1024 and 65535",
		"a-b":         "not a port range",
		"41000-70000": "between 1024 and 65535",
	} {
		if _, err := netport.Parse(in, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want %q", in, err, want)
		}
	}
}
