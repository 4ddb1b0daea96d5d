// Command velocityproxy runs Velocity's reverse proxy (internal/proxy) for
// bench/proxy/run.sh, served by proxy.Serve as velocity run serves it: one
// route, Host web.bench.localhost, to one backend target, until killed
// (SIGINT/SIGTERM, which also writes the CPU profile).
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/velocity-ci/velocity/internal/proxy"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18082", "listen address")
	backend := flag.String("backend", "http://127.0.0.1:18080", "backend URL")
	host := flag.String("host", "web.bench.localhost", "Host routed to the backend")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until killed")
	flag.Parse()

	p := proxy.New(proxy.Options{})
	t, err := p.NewTarget(*backend)
	if err != nil {
		log.Fatal(err)
	}
	t.MarkHealthy() // targets start healthy; explicit for the reader
	route := p.NewRoute("bench", "web")
	if err := route.SetGroups([]proxy.Group{{Release: "r1", Weight: 100, Targets: []*proxy.Target{t}}}); err != nil {
		log.Fatal(err)
	}
	p.SetRoute(*host, route)

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- p.Serve(ln, proxy.ServeOptions{}) }()
	select {
	case err := <-errc:
		log.Print(err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = p.Shutdown(sctx)
		cancel()
	}
	p.Close()
}
