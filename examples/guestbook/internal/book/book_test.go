package book_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"example.com/guestbook/internal/book"
)

func TestSignThenRead(t *testing.T) {
	srv := httptest.NewServer(book.New("v1", &book.Memory{}, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	for _, name := range []string{"Ada", "<Grace>"} {
		resp, err := http.PostForm(srv.URL+"/", url.Values{"name": {name}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("sign %q: %s", name, resp.Status)
		}
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "guestbook v1: 2 entries\n- Ada\n- &lt;Grace&gt;\n"
	if string(body) != want {
		t.Fatalf("page = %q, want %q", body, want)
	}
}

func TestRefusesEmptyAndLongNames(t *testing.T) {
	srv := httptest.NewServer(book.New("v1", &book.Memory{}, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	for _, name := range []string{"", "   ", strings.Repeat("x", 101)} {
		resp, err := http.PostForm(srv.URL+"/", url.Values{"name": {name}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("sign %q: %s, want 400", name, resp.Status)
		}
	}
}
