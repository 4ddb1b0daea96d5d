// Command backend is the upstream for bench/proxy/run.sh: GET / answers a
// fixed ~100-byte body, so the benchmark measures the proxies, not the app.
package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
	"time"
)

var body = []byte("velocity proxy benchmark backend: a small fixed body of about one hundred bytes..........\n")

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address")
	flag.Parse()
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hd := w.Header()
		hd["Content-Type"] = []string{"text/plain; charset=utf-8"}
		hd["Content-Length"] = []string{length}
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
