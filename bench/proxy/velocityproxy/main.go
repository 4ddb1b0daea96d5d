// Command velocityproxy runs Velocity's reverse proxy (internal/proxy) for
// bench/proxy/run.sh: one route, Host web.bench.localhost, to one backend
// target, until killed (SIGINT/SIGTERM, which also writes the CPU profile).
//
// -front serve (the default) serves it with proxy.Serve, the proxy's own
// HTTP/1.1 data path, as velocity run and velocity serve do; -front
// handler serves it with net/http and the proxy as its Handler
// (Proxy.ServeHTTP over httputil.ReverseProxy), the path Serve hands
// HTTP/2, HTTP/1.0, upgrades and the like to.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"net/http"
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
	front := flag.String("front", "serve", "serve: proxy.Serve's own data path; handler: net/http with Proxy.ServeHTTP")
	flag.Parse()
	if *front != "serve" && *front != "handler" {
		log.Fatalf("-front %q: want serve or handler", *front)
	}

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
	// The handler front has the settings Serve gives the net/http server
	// it hands connections to.
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	if *front == "serve" {
		go func() { errc <- p.Serve(ln, proxy.ServeOptions{}) }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case err := <-errc:
		log.Print(err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if *front == "serve" {
			_ = p.Shutdown(sctx)
		} else {
			_ = srv.Shutdown(sctx)
		}
		cancel()
	}
	p.Close()
}
