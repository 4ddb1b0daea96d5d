package home

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// A process's runs share one registry endpoint, opened at the first
// push only and closed with the data directory.
func TestRunRegistryOpensOnceAndClosesWithTheHome(t *testing.T) {
	h := openHome(t, func(string) string { return "" })
	if _, err := os.Stat(filepath.Join(h.Dir, "registry")); !os.IsNotExist(err) {
		t.Fatalf("the registry exists before any run asked for it: %v", err)
	}
	ctx := context.Background()
	ep, err := h.RunRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := h.RunRegistry(ctx); err != nil || again != ep {
		t.Fatalf("a second call gave %+v (%v), the first %+v", again, err, ep)
	}
	req, _ := http.NewRequest("GET", "http://"+ep.Host+"/v2/", nil)
	req.SetBasicAuth(ep.Username, ep.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/ with the endpoint's credential: %v %v", resp, err)
	}
	resp.Body.Close()
	h.Close()
	if _, err := http.Get("http://" + ep.Host + "/v2/"); err == nil {
		t.Fatal("the endpoint still answers after the home closed")
	}
}
