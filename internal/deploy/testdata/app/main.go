// Command app is the service the deploy tests put into releases. It serves
// on 127.0.0.1:$PORT ($APP_HOST:$PORT when set; 0.0.0.0 in a container):
//
//	GET /        "release <X>\n", X from version.txt beside the binary, else
//	             $APP_VERSION; the X-Port header names the instance
//	GET /healthz 200
//
// Its behaviour comes from $APP_MODE or, when that is unset, mode.txt
// beside the binary, so a release's files alone can make it misbehave:
//
//	crash      print "fatal: bad config" and exit 3 at start
//	unhealthy  answer 500 on / and /healthz
//	errors=N   answer 500 on / for N% of requests (a bad canary)
//	slow=N     answer 503 "warming up" on /healthz for N seconds (a slow boot)
//	hang       never answer /healthz (a health endpoint stuck on a lock)
//	deaf       never listen at all (a program that ignores $PORT)
//	crashes=N  like crash for the first N starts of the release, then
//	           serve (starts are counted in a file beside the binary)
//	delay=MS   wait MS milliseconds before answering /
//
// Modes join with commas ("errors=10,delay=20").
// SIGTERM shuts it down gracefully: in-flight requests finish.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	dir := "."
	if exe, err := os.Executable(); err == nil {
		dir = filepath.Dir(exe)
	}
	version := readFile(filepath.Join(dir, "version.txt"), os.Getenv("APP_VERSION"))
	mode := os.Getenv("APP_MODE")
	if mode == "" {
		mode = readFile(filepath.Join(dir, "mode.txt"), "")
	}
	var warmUntil time.Time
	var delay time.Duration
	errPercent := 0
	modes := strings.Split(mode, ",")
	for _, m := range modes {
		name, v, _ := strings.Cut(m, "=")
		n, _ := strconv.Atoi(v)
		switch name {
		case "crash":
			fmt.Println("fatal: bad config")
			os.Exit(3)
		case "crashes":
			if start := countStart(filepath.Join(dir, "starts")); start <= n {
				fmt.Printf("fatal: bad config (start %d)\n", start)
				os.Exit(3)
			}
		case "slow":
			warmUntil = time.Now().Add(time.Duration(n) * time.Second)
		case "errors":
			errPercent = n
		case "delay":
			delay = time.Duration(n) * time.Millisecond
		}
	}
	mode = modes[0]

	if mode == "deaf" {
		fmt.Println("listening on :3000")
		time.Sleep(time.Hour)
		return
	}
	host := os.Getenv("APP_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, os.Getenv("PORT")))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("release %s listening on %s\n", version, ln.Addr())
	body := "release " + version + "\n"
	port := os.Getenv("PORT")
	// A counter rather than randomness makes the error share exact, so the
	// canary test never sees a lucky streak; multiplying by 37 (coprime
	// with 100) spreads the errors instead of bunching them.
	var n atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		switch mode {
		case "unhealthy":
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		case "hang":
			<-r.Context().Done()
			return
		}
		if left := time.Until(warmUntil); left > 0 {
			http.Error(w, fmt.Sprintf("warming up, %.0fs left\n\x00", left.Seconds()), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(delay)
		w.Header().Set("X-Port", port)
		if mode == "unhealthy" || errPercent > 0 && int(n.Add(1)*37%100) < errPercent {
			http.Error(w, "release "+version+" failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(body))
	})
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		<-sigs
		_ = srv.Shutdown(context.Background())
		close(done)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	<-done
	fmt.Println("stopped")
}

func readFile(path, fallback string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fallback
	}
	return strings.TrimSpace(string(b))
}

// countStart records one more start in path and returns its number.
func countStart(path string) int {
	n, _ := strconv.Atoi(readFile(path, "0"))
	n++
	if err := os.WriteFile(path, []byte(strconv.Itoa(n)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "count start:", err)
		os.Exit(1)
	}
	return n
}
