// Command server is the test service: it serves HTTP on 127.0.0.1:$PORT
// and shuts down gracefully on SIGTERM, printing "stopped", unless
// IGNORE_TERM is set. SHUTDOWN_DELAY (a Go duration) makes the graceful
// shutdown take that long. SECRET, when set, is printed at start and on
// every request.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s pid %d\n", ln.Addr(), os.Getpid())
	secret := os.Getenv("SECRET")
	if secret != "" {
		// As careless apps do; in two writes, so that the value is split
		// across reads of the output pipe.
		fmt.Printf("starting with token=%s", secret[:len(secret)/2])
		os.Stdout.Sync()
		time.Sleep(50 * time.Millisecond)
		fmt.Printf("%s ok\n", secret[len(secret)/2:])
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if secret != "" {
			fmt.Fprintf(os.Stderr, "request %s token=%s\n", r.URL.Path, secret)
		}
		fmt.Fprintf(w, "hello from %s pid %d\n", os.Getenv("RELEASE"), os.Getpid())
	})}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for range sigs {
			if os.Getenv("IGNORE_TERM") != "" {
				fmt.Println("ignoring SIGTERM")
				continue
			}
			fmt.Println("shutting down")
			if d, err := time.ParseDuration(os.Getenv("SHUTDOWN_DELAY")); err == nil {
				time.Sleep(d)
			}
			_ = srv.Shutdown(context.Background())
			close(done)
			return
		}
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	<-done
	fmt.Println("stopped")
}
