package sidecar_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/sidecar"
	"github.com/velocity-ci/velocity/internal/spec"
)

// freeRange finds n consecutive ports nothing listens on.
func freeRange(t *testing.T, n int) netport.Range {
	t.Helper()
	for low := 45000; low < 60000; low += n {
		ok := true
		for p := low; p < low+n && ok; p++ {
			ok = !netport.Taken(p)
		}
		if ok {
			return netport.Range{Low: low, High: low + n - 1, Source: "velocity.yml:1:13"}
		}
	}
	t.Fatal("no free range")
	return netport.Range{}
}

// Sidecars listen in the port range; while they run its ports are not
// handed out again, and a range with too few ports fails the start
// naming it and where it was set; Stop gives the ports back.
func TestSidecarsStayInThePortRange(t *testing.T) {
	t.Parallel()
	e := newExecutor(t)
	var log buffer
	r := freeRange(t, 2)
	picker := &netport.Picker{}
	opt := options(t, e, &log)
	opt.Ports, opt.PortRange = picker, r
	two := []spec.Sidecar{
		{Name: "a", Run: `exec python3 -m http.server "$PORT" --bind 127.0.0.1`},
		{Name: "b", Run: `exec python3 -m http.server "$PORT" --bind 127.0.0.1`},
	}
	g, err := sidecar.Start(context.Background(), two, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"A_PORT", "B_PORT"} {
		port, _ := strconv.Atoi(envValue(t, g.Env(), name))
		if !r.Contains(port) {
			t.Errorf("%s=%d, outside %s", name, port, r)
		}
	}
	_, err = sidecar.Start(context.Background(), two[:1], opt)
	if err == nil || !strings.Contains(err.Error(), "no free port in port range "+r.String()+" (velocity.yml:1:13)") {
		t.Errorf("a third sidecar in a range of 2: %v", err)
	}
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	g, err = sidecar.Start(context.Background(), two, opt)
	if err != nil {
		t.Fatalf("after Stop the range is free again: %v", err)
	}
	g.Stop()
}
