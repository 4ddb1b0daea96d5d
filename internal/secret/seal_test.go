package secret

import (
	"bytes"
	"testing"
)

func TestSealUnseal(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("webhook secret of shop", []byte("hook"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hook")) {
		t.Fatalf("sealed value holds the plain text: %q", sealed)
	}
	// Another process with the same key file opens it.
	again, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := again.Unseal("webhook secret of shop", sealed); err != nil || string(v) != "hook" {
		t.Fatalf("unseal: %q, %v", v, err)
	}
	if _, err := again.Unseal("webhook secret of other", sealed); err == nil {
		t.Error("a value sealed for shop opened for another purpose")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := again.Unseal("webhook secret of shop", sealed); err == nil {
		t.Error("an altered value opened")
	}
	other, err := Open(t.TempDir(), "0000000000000000000000000000000000000000000000000000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := other.Unseal("webhook secret of shop", sealed); err == nil {
		t.Error("a value opened under another key")
	}
}
