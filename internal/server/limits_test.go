package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// echoLength answers how many bytes of the body it could read, or why not.
func echoLength(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, "too big", http.StatusRequestEntityTooLarge)
	case err != nil:
		http.Error(w, err.Error(), http.StatusRequestTimeout)
	default:
		fmt.Fprint(w, n)
	}
}

func TestLimitBodiesCapsSizeAndTime(t *testing.T) {
	srv := httptest.NewServer(LimitBodies(http.HandlerFunc(echoLength), 10, 300*time.Millisecond))
	defer srv.Close()

	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "10" {
		t.Errorf("a body at the cap: %d %q", resp.StatusCode, b)
	}
	resp, err = http.Post(srv.URL, "text/plain", strings.NewReader("0123456789x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over the cap: %d", resp.StatusCode)
	}

	// A client that announces a body and never sends it is cut off.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("a slow body got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("a slow body: %d", resp.StatusCode)
	}
}

// TestLimitBodiesLeavesLongAnswersAlone: once the body is read, the
// deadline is gone; an answer that streams for longer is not cut.
func TestLimitBodiesLeavesLongAnswersAlone(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		for i := range 4 {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			fmt.Fprintln(w, i)
			w.(http.Flusher).Flush()
		}
	})
	srv := httptest.NewServer(LimitBodies(h, 10, 100*time.Millisecond))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "0\n1\n2\n3\n" {
		t.Errorf("a long answer was cut: %q", b)
	}
}
