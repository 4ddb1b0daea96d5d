package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/dora"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
)

// A viewer reads a project's four keys; the window and environment come
// from the query.
func TestDoraRoute(t *testing.T) {
	d := newData(t)
	ctx := context.Background()
	if _, err := d.journal.CreateRun(ctx, store.Run{Project: "shop", Status: store.Succeeded, Created: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	tokens := access.New(access.Config{Store: d.journal})
	viewer, err := tokens.Create(ctx, "viewer-token", access.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Dora: &server.Dora{Service: &dora.Service{Runs: d.journal, Deployments: d.journal}}}
	api := httptest.NewServer((&server.Guard{Access: tokens}).Wrap(srv.Handler().(*http.ServeMux)))
	defer api.Close()
	get := func(path, secret string) (int, dora.Report) {
		t.Helper()
		req, _ := http.NewRequest("GET", api.URL+path, nil)
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var rep dora.Report
		json.NewDecoder(res.Body).Decode(&rep)
		return res.StatusCode, rep
	}
	if code, rep := get("/api/v1/projects/shop/dora?days=7&environment=staging", viewer); code != http.StatusOK ||
		rep.Project != "shop" || rep.Days != 7 || rep.Environment != "staging" || len(rep.Series) != 7 {
		t.Errorf("as a viewer: %d %+v", code, rep)
	}
	for path, want := range map[string]int{
		"/api/v1/projects/shop/dora?days=x": http.StatusBadRequest,
		"/api/v1/projects/nope/dora":        http.StatusNotFound,
	} {
		if code, _ := get(path, viewer); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
	if code, _ := get("/api/v1/projects/shop/dora", ""); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", code)
	}
}
