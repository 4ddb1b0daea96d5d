package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/home"
)

func velocityOn(t *testing.T, dataDir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut strings.Builder
	code := Main(context.Background(), testOptions(), append([]string{"--data-dir", dataDir}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	code, secret, note := velocityOn(t, dir, "token", "create", "ci", "--role", "developer")
	if code != ExitOK || !strings.HasPrefix(secret, "vel_") || strings.Count(secret, "\n") != 1 {
		t.Fatalf("create: exit %d, stdout %q, stderr %q", code, secret, note)
	}
	secret = strings.TrimSpace(secret)
	if !strings.Contains(note, "cannot be shown again") || strings.Contains(note, secret) {
		t.Errorf("create's note: %q", note)
	}

	// The secret printed is the token's, with its role.
	h, err := home.Open(context.Background(), home.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.Access().Authenticate(context.Background(), secret)
	h.Close()
	if err != nil || tok.Name != "ci" || tok.Role != access.Developer {
		t.Fatalf("the printed secret authenticates as %+v, %v", tok, err)
	}

	code, list, _ := velocityOn(t, dir, "token", "list")
	if code != ExitOK || !strings.Contains(list, "NAME") || !strings.Contains(list, "ci ") || !strings.Contains(list, "developer") {
		t.Errorf("list: exit %d\n%s", code, list)
	}
	if strings.Contains(list, secret) || strings.Contains(list, strings.TrimPrefix(secret, "vel_")) {
		t.Errorf("list shows the secret:\n%s", list)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token", "create", "ci", "--role", "admin"}, ExitFailed, "a token named ci exists"},
		{[]string{"token", "create", "bob", "--role", "root"}, ExitUsage, `role "root"`},
		{[]string{"token", "create", "bob"}, ExitUsage, "--role is required"},
		{[]string{"token", "revoke", "nobody"}, ExitFailed, "no token named nobody"},
		{[]string{"token", "revoke", "ci"}, ExitOK, "token ci revoked"},
	} {
		code, _, stderr := velocityOn(t, dir, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	h, err = home.Open(context.Background(), home.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.Access().Authenticate(context.Background(), secret); !errors.Is(err, fault.Unauthorised) {
		t.Errorf("a revoked token authenticates: %v", err)
	}
}
