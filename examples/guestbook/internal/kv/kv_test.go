package kv_test

import (
	"net"
	"os"
	"slices"
	"testing"

	"example.com/guestbook/internal/kv"
)

// addr is the server the tests talk to: the pipeline's kv sidecar
// container ($KV_ADDR), else one started in the test.
func addr(t *testing.T) string {
	if a := os.Getenv("KV_ADDR"); a != "" {
		t.Logf("testing against the kv server at %s", a)
		return a
	}
	if os.Getenv("KV_REQUIRED") != "" {
		t.Fatal("KV_REQUIRED is set but KV_ADDR is not: the kv sidecar is missing")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go kv.NewServer().Serve(ln)
	return ln.Addr().String()
}

func TestAppendThenList(t *testing.T) {
	c := kv.Dial(addr(t))
	defer c.Close()
	key := "t-" + t.Name()
	for i, v := range []string{"first", "second entry", "third"} {
		n, err := c.Append(key, v)
		if err != nil {
			t.Fatal(err)
		}
		if n != i+1 {
			t.Fatalf("after %d appends the list has %d entries", i+1, n)
		}
	}
	got, err := c.List(key)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"first", "second entry", "third"}; !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
}

func TestRefusesMultilineValues(t *testing.T) {
	c := kv.Dial(addr(t))
	defer c.Close()
	if _, err := c.Append("k", "two\nlines"); err == nil {
		t.Fatal("a value with a newline was accepted")
	}
}

func TestEmptyListOfUnknownKey(t *testing.T) {
	c := kv.Dial(addr(t))
	defer c.Close()
	got, err := c.List("never-written-" + t.Name())
	if err != nil || len(got) != 0 {
		t.Fatalf("List = %q, %v", got, err)
	}
}
