package home

import (
	"os"
	"testing"
)

// A node listening on all interfaces is advertised by its host name;
// others as they listen.
func TestAdvertisedAddress(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	for in, want := range map[string]string{
		"https://[::]:8443":     "https://" + host + ":8443",
		"http://0.0.0.0:8080":   "http://" + host + ":8080",
		"http://127.0.0.1:8080": "http://127.0.0.1:8080",
		"https://ci-1:8443":     "https://ci-1:8443",
		"":                      "",
	} {
		if got := advertised(in); got != want {
			t.Errorf("advertised(%q) = %q, want %q", in, got, want)
		}
	}
}
