// Package kv is a tiny key-value store served over TCP, and its client:
// the database of the guestbook example. Its protocol is one request per
// line and one answer per line:
//
//	APPEND key value   ->  OK n        (n = entries under key afterwards)
//	LIST key           ->  OK n, then n lines
//	PING               ->  PONG
//
// Values are single lines; anything else answers "ERR reason".
package kv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxLine bounds a request, so a client cannot make the server buffer
// without end.
const maxLine = 64 << 10

// Server keeps lists of lines in memory.
type Server struct {
	mu    sync.Mutex
	lists map[string][]string
}

// NewServer returns an empty store.
func NewServer() *Server { return &Server{lists: map[string][]string{}} }

// Serve answers connections from ln until it is closed.
func (s *Server) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go s.handle(c)
	}
}

func (s *Server) handle(c net.Conn) {
	defer c.Close()
	r := bufio.NewScanner(c)
	r.Buffer(make([]byte, 4096), maxLine)
	w := bufio.NewWriter(c)
	for r.Scan() {
		s.answer(w, r.Text())
		if w.Flush() != nil {
			return
		}
	}
}

func (s *Server) answer(w *bufio.Writer, line string) {
	cmd, rest, _ := strings.Cut(line, " ")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch strings.ToUpper(cmd) {
	case "PING":
		fmt.Fprintln(w, "PONG")
	case "APPEND":
		key, value, ok := strings.Cut(rest, " ")
		if !ok || key == "" {
			fmt.Fprintln(w, "ERR usage: APPEND key value")
			return
		}
		s.lists[key] = append(s.lists[key], value)
		fmt.Fprintf(w, "OK %d\n", len(s.lists[key]))
	case "LIST":
		items := s.lists[rest]
		fmt.Fprintf(w, "OK %d\n", len(items))
		for _, it := range items {
			fmt.Fprintln(w, it)
		}
	default:
		fmt.Fprintf(w, "ERR unknown command %q\n", cmd)
	}
}

// Client talks to a Server; one request at a time.
type Client struct {
	mu   sync.Mutex
	addr string
	conn net.Conn
	r    *bufio.Reader
}

// Dial returns a client of the server at addr (host:port), connected on
// first use and again after an error.
func Dial(addr string) *Client { return &Client{addr: addr} }

// Append adds value to key's list and returns the list's new length.
func (c *Client) Append(key, value string) (int, error) {
	if strings.ContainsAny(key, " \n") || strings.Contains(value, "\n") {
		return 0, errors.New("kv: keys are single words and values single lines")
	}
	var n int
	err := c.do("APPEND "+key+" "+value, func(first string) error {
		var err error
		n, err = strconv.Atoi(first)
		return err
	})
	return n, err
}

// List returns key's values, oldest first.
func (c *Client) List(key string) ([]string, error) {
	var items []string
	err := c.do("LIST "+key, func(first string) error {
		n, err := strconv.Atoi(first)
		if err != nil {
			return err
		}
		for range n {
			line, err := c.r.ReadString('\n')
			if err != nil {
				return err
			}
			items = append(items, strings.TrimSuffix(line, "\n"))
		}
		return nil
	})
	return items, err
}

// do sends one request and reads the first line of its answer, handing
// what follows "OK " to read.
func (c *Client) do(req string, read func(first string) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return fmt.Errorf("kv: %w", err)
		}
		c.conn, c.r = conn, bufio.NewReader(conn)
	}
	err := func() error {
		c.conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := fmt.Fprintln(c.conn, req); err != nil {
			return err
		}
		line, err := c.r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSuffix(line, "\n")
		rest, ok := strings.CutPrefix(line, "OK ")
		if !ok {
			return fmt.Errorf("server answered %q", line)
		}
		return read(rest)
	}()
	if err != nil {
		c.conn.Close()
		c.conn = nil
		return fmt.Errorf("kv %s: %w", strings.Fields(req)[0], err)
	}
	return nil
}

// Close drops the connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}
