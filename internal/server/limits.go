package server

import (
	"io"
	"net/http"
	"time"
)

// LimitBodies caps what a client may send in a request's body: at most
// max bytes (reading more fails with *http.MaxBytesError and closes the
// connection after the answer), within timeout of the request's start. A slow body would otherwise hold a
// handler for as long as the client likes; a whole-request read timeout
// of http.Server would instead cut the long answers (server-sent events,
// a deploy's log) too, so the deadline is the body's alone and is lifted
// as soon as the body is read or closed.
func LimitBodies(next http.Handler, max int64, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// A connection that cannot take a deadline (not a net.Conn)
		// keeps the size limit alone.
		if rc.SetReadDeadline(time.Now().Add(timeout)) != nil {
			rc = nil
		}
		r.Body = &deadlineBody{ReadCloser: http.MaxBytesReader(w, r.Body, max), rc: rc}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the connection's read deadline once the body is
// read to its end: the server's own read that watches for the client
// going away starts then, and must not time out under a long answer. A
// body that failed keeps it, as the server may still try to read what is
// left of it before answering.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	failed bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.lift()
	case err != nil:
		b.failed = true
	}
	return n, err
}

func (b *deadlineBody) Close() error {
	// Closing may read what is left of the body: under the deadline.
	err := b.ReadCloser.Close()
	if !b.failed && err == nil {
		b.lift()
	}
	return err
}

func (b *deadlineBody) lift() {
	if b.rc != nil {
		b.rc.SetReadDeadline(time.Time{})
		b.rc = nil
	}
}
