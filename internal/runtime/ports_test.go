package runtime

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/netport"
)

// freeRange finds n consecutive ports nothing listens on.
func freeRange(t *testing.T, n int) netport.Range {
	t.Helper()
	for low := 43000; low < 60000; low += n {
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

// Instances take ports of the runtime's range only; when every port of
// it is in use the start fails naming the range, and a stopped
// instance's port serves the next one.
func TestInstancesStayInThePortRange(t *testing.T) {
	r := freeRange(t, 2)
	l := newLocal(t, Config{PortRange: r})
	a := start(t, l, serverSpec(t, `exec "$SERVER"`))
	b := start(t, l, serverSpec(t, `exec "$SERVER"`))
	for _, in := range []Instance{a, b} {
		waitServing(t, in)
		_, p, _ := strings.Cut(in.Addr(), ":")
		if port, _ := strconv.Atoi(p); !r.Contains(port) {
			t.Errorf("instance on %s, outside %s", in.Addr(), r)
		}
	}
	_, err := l.Start(t.Context(), serverSpec(t, `exec "$SERVER"`))
	var full *netport.FullError
	if !errors.As(err, &full) || !strings.Contains(err.Error(), "port range "+r.String()+" (--port-range)") {
		t.Fatalf("third instance in a range of 2: %v", err)
	}
	stop(t, a)
	c := start(t, l, serverSpec(t, `exec "$SERVER"`))
	waitServing(t, c)
	if c.Addr() != a.Addr() {
		t.Errorf("new instance on %s, want the freed %s", c.Addr(), a.Addr())
	}
	stop(t, b)
	stop(t, c)
}
