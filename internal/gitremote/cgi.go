package gitremote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/mirror"
	"github.com/velocity-ci/velocity/internal/proc"
)

// cgi is one run of `git http-backend`, the CGI program that speaks
// git's smart HTTP protocol: the request goes to it as CGI variables
// (RFC 3875) and its standard input, its standard output is the answer.
// net/http/cgi would start the program itself, outside package proc.
type cgi struct {
	dir  string   // the repository
	tail string   // the path inside it: /info/refs, /git-upload-pack…
	user string   // REMOTE_USER: the token's name
	env  []string // more variables (the push log)
}

// killGrace lets receive-pack remove its temporary pack when the client
// went away.
const killGrace = 5 * time.Second

// headerLimit bounds the CGI header block; http-backend writes a few
// hundred bytes.
const headerLimit = 64 << 10

// environ is http-backend's environment: velocity's, with git's
// restrictions (mirror.Env), and the CGI variables of r.
func (c cgi) environ(r *http.Request, query string) []string {
	env := []string{}
	for _, kv := range mirror.Env(os.Environ()) {
		name, _, _ := strings.Cut(kv, "=")
		if !cgiVar(name) {
			env = append(env, kv)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	env = append(env,
		"GATEWAY_INTERFACE=CGI/1.1",
		"SERVER_SOFTWARE=velocity",
		"SERVER_PROTOCOL="+r.Proto,
		"REQUEST_METHOD="+r.Method,
		"SCRIPT_NAME=/git",
		"PATH_INFO=/"+filepath.Base(c.dir)+c.tail,
		"QUERY_STRING="+query,
		"REMOTE_ADDR="+host,
		"GIT_PROJECT_ROOT="+filepath.Dir(c.dir),
		// Every repository the handler is given is meant to be served:
		// no git-daemon-export-ok file is needed.
		"GIT_HTTP_EXPORT_ALL=1",
	)
	if c.user != "" {
		env = append(env, "REMOTE_USER="+c.user)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		env = append(env, "CONTENT_TYPE="+ct)
	}
	if r.ContentLength >= 0 && r.Method == http.MethodPost {
		env = append(env, "CONTENT_LENGTH="+strconv.FormatInt(r.ContentLength, 10))
	}
	// git compresses big requests; http-backend inflates them itself.
	if ce := r.Header.Get("Content-Encoding"); ce != "" {
		env = append(env, "HTTP_CONTENT_ENCODING="+ce)
	}
	// Protocol version 2, when the client asks for it.
	if gp := r.Header.Get("Git-Protocol"); validGitProtocol(gp) {
		env = append(env, "HTTP_GIT_PROTOCOL="+gp)
	}
	return append(env, c.env...)
}

// validGitProtocol accepts what a client may ask in Git-Protocol:
// "version=2", colon-separated keys and values (a character loop: the
// regular expression with {1,256} cost a millisecond at every start of
// the binary).
func validGitProtocol(s string) bool {
	if len(s) < 1 || len(s) > 256 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("=:._-", c) >= 0) {
			return false
		}
	}
	return true
}

// cgiVar reports whether name is set per request: inherited from
// velocity's environment it would say something untrue.
func cgiVar(name string) bool {
	switch name {
	case "GATEWAY_INTERFACE", "SERVER_SOFTWARE", "SERVER_PROTOCOL", "SERVER_NAME", "SERVER_PORT",
		"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING",
		"REMOTE_ADDR", "REMOTE_HOST", "REMOTE_USER", "AUTH_TYPE", "CONTENT_TYPE", "CONTENT_LENGTH",
		"GIT_PROJECT_ROOT", "GIT_HTTP_EXPORT_ALL", "GIT_HTTP_MAX_REQUEST_BUFFER", pushLogVar:
		return true
	}
	return strings.HasPrefix(name, "HTTP_")
}

// serve runs http-backend for r with body as its input and streams its
// answer to w. It returns once the process is gone; ok is true when it
// exited successfully. A client that goes away (ctx ends, a write
// fails) has the process tree killed.
func (c cgi) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, query string, body io.Reader) (ok bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	var stderr proc.Head
	p, err := proc.Start(ctx, proc.Spec{
		Path:      "git",
		Args:      []string{"http-backend"},
		Dir:       c.dir,
		Env:       c.environ(r, query),
		Stdin:     body,
		Stdout:    pw,
		Stderr:    &stderr,
		Group:     true,
		KillGrace: killGrace,
	})
	if err != nil {
		http.Error(w, "cannot start git http-backend", http.StatusInternalServerError)
		return false, fmt.Errorf("start git http-backend: %w", err)
	}
	type result struct {
		exit proc.Exit
		err  error
	}
	done := make(chan result, 1)
	go func() {
		exit, err := p.Wait()
		// Wait returns once the output is delivered: the end of the pipe.
		pw.Close()
		done <- result{exit, err}
	}()

	copyErr := c.relay(w, pr)
	if copyErr != nil {
		// The client is gone or the answer was broken: stop git, and
		// let what it still writes be discarded.
		cancel()
		pr.CloseWithError(copyErr)
	}
	res := <-done
	switch {
	case res.err != nil:
		return false, fmt.Errorf("git http-backend: %w", res.err)
	case copyErr != nil:
		return false, fmt.Errorf("git http-backend: %w (%s)", copyErr, strings.TrimSpace(stderr.String()))
	case !res.exit.Success():
		return false, fmt.Errorf("git http-backend: %v: %s", res.exit, strings.TrimSpace(stderr.String()))
	}
	return true, nil
}

// errNoHeaders is an http-backend that ended before its CGI headers.
var errNoHeaders = errors.New("git http-backend wrote no CGI headers")

// relay copies the CGI answer on out to w: its header block (Status and
// the HTTP headers), then the body, flushed as it comes so that git's
// progress reaches the client.
func (c cgi) relay(w http.ResponseWriter, out io.Reader) error {
	br := bufio.NewReader(io.LimitReader(out, headerLimit))
	code, header, err := readHeaders(br)
	if err != nil {
		http.Error(w, "git http-backend failed", http.StatusInternalServerError)
		return err
	}
	for k, vs := range header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(code)
	// What the header reader buffered, then the rest, unlimited.
	rest := io.MultiReader(bytes.NewReader(buffered(br)), out)
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := rest.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// buffered returns what br has read ahead.
func buffered(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}

// readHeaders reads a CGI header block: "Name: value" lines up to an
// empty one. "Status: 404 Not Found" is the HTTP status (200 without).
func readHeaders(br *bufio.Reader) (int, http.Header, error) {
	tp := textproto.NewReader(br)
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, errNoHeaders
		}
		return 0, nil, fmt.Errorf("git http-backend's CGI headers: %w", err)
	}
	h := http.Header(mh)
	code := http.StatusOK
	if s := h.Get("Status"); s != "" {
		f, _, _ := strings.Cut(s, " ")
		n, err := strconv.Atoi(f)
		if err != nil || n < 100 || n > 599 {
			return 0, nil, fmt.Errorf("git http-backend's CGI status %q", s)
		}
		code = n
		h.Del("Status")
	}
	return code, h, nil
}
