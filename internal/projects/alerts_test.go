package projects

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/secret"
)

// An alert webhook is checked, stored sealed, shown only as set, and
// read back as given by AlertWebhook; an error never repeats the URL.
func TestAlertWebhookIsSealedAndNeverShown(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const url = "https://hooks.example.com/services/T0/B0/secret-part"
	p := f.add(AddRequest{Name: "shop", AlertWebhook: url})
	if !p.Alerts {
		t.Errorf("added %+v: want alerts set", p)
	}
	if q := f.add(AddRequest{Name: "quiet"}); q.Alerts {
		t.Errorf("a project without a webhook shows alerts set")
	}
	rec, err := f.store.Project(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rec.AlertWebhook, []byte("secret-part")) {
		t.Errorf("the journal holds the webhook URL in clear: %q", rec.AlertWebhook)
	}
	sealer, err := secret.Open(f.data+"/secrets", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := AlertWebhook(sealer, rec); err != nil || got != url {
		t.Errorf("AlertWebhook = %q, %v; want the URL given", got, err)
	}
	for _, bad := range []string{"hooks.example.com/x", "ftp://hooks.example.com/x", "https:///x",
		"https://user:pw@hooks.example.com/x", "https://hooks.example.com/" + strings.Repeat("x", 3000)} {
		_, err := f.svc.Add(ctx, AddRequest{Name: "bad", AlertWebhook: bad})
		if !errors.Is(err, fault.Invalid) {
			t.Errorf("Add with webhook %.40q: %v, want invalid", bad, err)
		} else if strings.Contains(err.Error(), "hooks.example.com") {
			t.Errorf("the error repeats the URL: %v", err)
		}
	}
}
