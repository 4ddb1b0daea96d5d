package cli

import "testing"

// TestLoopback: the plain-HTTP warning is for addresses other machines
// can reach, ":8443" (every interface) among them.
func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:0": true, "localhost:8443": true, "[::1]:80": true,
		":8443": false, "0.0.0.0:8443": false, "10.0.0.5:80": false, "ci.example.com:443": false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
