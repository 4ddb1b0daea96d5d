// Command testserver is the program the runtimetest suite deploys: a tiny
// HTTP service on $PORT (all addresses) that answers, logs, crashes and
// drains on request, so the suite sees a runtime's behaviour from the
// outside. A container runtime packs it into an image; the process
// runtime builds and runs it as it is.
//
//	GET /hello        "hello $GREETING"
//	GET /log?line=X   prints X to stdout
//	GET /slow?ms=N    prints "slow request started", answers after N ms
//	GET /crash        answers, then exits with code 3
//
// SIGTERM drains: no new connections, requests in flight are answered,
// then "drained" is printed and it exits 0. IGNORE_TERM=1 ignores SIGTERM.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if os.Getenv("IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	}
	term := make(chan os.Signal, 1)
	if os.Getenv("IGNORE_TERM") != "1" {
		signal.Notify(term, syscall.SIGTERM)
	}
	ln, err := net.Listen("tcp", ":"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", os.Getenv("GREETING"))
	})
	mux.HandleFunc("GET /log", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.URL.Query().Get("line"))
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		fmt.Println("slow request started")
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprint(w, "slow done")
	})
	mux.HandleFunc("GET /crash", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "crashing")
		w.(http.Flusher).Flush()
		go func() {
			time.Sleep(50 * time.Millisecond)
			fmt.Println("crashing on request")
			os.Exit(3)
		}()
	})
	srv := &http.Server{Handler: mux}
	go func() {
		<-term
		fmt.Println("draining")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		fmt.Println("drained")
		os.Exit(0)
	}()
	fmt.Println("listening")
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	select {} // the drain goroutine exits
}
