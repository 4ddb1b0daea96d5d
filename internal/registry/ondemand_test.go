package registry_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/velocity-ci/velocity/internal/registry"
)

func TestOnDemandServesWithItsOwnCredential(t *testing.T) {
	st, err := registry.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	od := &registry.OnDemand{Storage: st}
	ep, err := od.Endpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := od.Endpoint(context.Background()); again != ep {
		t.Fatalf("a second Endpoint %+v differs from the first %+v", again, ep)
	}
	get := func(user, password string) *http.Response {
		req, _ := http.NewRequest("GET", "http://"+ep.Host+"/v2/", nil)
		if password != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := get("", "")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Basic realm="velocity"` {
		t.Fatalf("no credential: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp := get(ep.Username, "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d", resp.StatusCode)
	}
	if resp := get(ep.Username, ep.Password); resp.StatusCode != http.StatusOK {
		t.Fatalf("the endpoint's credential: %d", resp.StatusCode)
	}
	if err := od.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + ep.Host + "/v2/"); err == nil {
		t.Fatal("the port still answers after Close")
	}
	if _, err := od.Endpoint(context.Background()); err == nil {
		t.Fatal("Endpoint after Close opened a port")
	}
}
