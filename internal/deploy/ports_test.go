package deploy_test

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/spec"
)

// freeRange finds n consecutive ports nothing listens on.
func freeRange(t *testing.T, n int) netport.Range {
	t.Helper()
	for low := 44000; low < 60000; low += n {
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

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, _ := strings.Cut(addr, ":")
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// The instances of a deploy with a port range listen in it, a rolling
// deploy included (old and new side by side), and a range too small
// for the replicas fails the deploy naming the range.
func TestDeployStaysInThePortRange(t *testing.T) {
	h := newHarness(t)
	r := freeRange(t, 3)
	svc := service("rolling", 2)
	deployIn := func(id, version string, r netport.Range) error {
		var log bytes.Buffer
		_, err := h.d.Deploy(context.Background(), deploy.Request{
			Service: svc, Environment: spec.Environment{Name: envName},
			Release: id, Files: h.release(version, ""), Log: &log, Ports: r,
		})
		t.Logf("deploy %s:\n%s", id, log.String())
		return err
	}
	for i, version := range []string{"A", "B"} {
		if err := deployIn("r"+strconv.Itoa(i+1), version, r); err != nil {
			t.Fatal(err)
		}
		for _, in := range h.d.Instances(envName, svcName) {
			if port := portOf(t, in.Addr()); !r.Contains(port) {
				t.Errorf("release %s: instance on %d, outside %s", version, port, r)
			}
		}
		h.serves(version, 4)
	}

	h2 := newHarness(t)
	one := freeRange(t, 1)
	h = h2
	err := deployIn("r1", "C", one)
	if err == nil {
		t.Fatal("2 replicas deployed in a range of 1 port")
	}
	t.Logf("error: %v", err)
	for _, want := range []string{"instance 2 of release r1: no free port in port range " + one.String() + " (--port-range)",
		"a rolling deploy of 2 replicas takes up to 3 ports"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q", want)
		}
	}
}

// takingRuntime starts the first instance on a port another program
// already listens on, as if that program had bound it between the pick
// and the instance's own listen.
type takingRuntime struct {
	*runtime.Local
	once  sync.Once
	taken net.Listener
}

func (r *takingRuntime) Start(ctx context.Context, s runtime.Spec) (runtime.Instance, error) {
	r.once.Do(func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			r.taken = l
			s.Port = l.Addr().(*net.TCPAddr).Port
		}
	})
	return r.Local.Start(ctx, s)
}

// An instance whose port was taken before it could listen is started
// again on another port, and the deploy succeeds.
func TestTakenPortIsRetriedOnAnother(t *testing.T) {
	h := newHarness(t)
	tr := &takingRuntime{Local: h.rt.Local}
	h.d.Runtime = tr
	var log bytes.Buffer
	_, err := h.d.Deploy(context.Background(), deploy.Request{
		Service: service("rolling", 1), Environment: spec.Environment{Name: envName},
		Release: "r1", Files: h.release("A", ""), Log: &log,
	})
	t.Logf("deploy:\n%s", log.String())
	if tr.taken == nil {
		t.Fatal("no port taken")
	}
	defer tr.taken.Close()
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if !strings.Contains(log.String(), "another program listens on its address "+tr.taken.Addr().String()+"; starting it again on another port") {
		t.Errorf("the deploy does not say why it started the instance again")
	}
	h.serves("A", 3)
}
