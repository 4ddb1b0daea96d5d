package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretsAreMaskedEverywhereAndEncryptedAtRest(t *testing.T) {
	e := newEnv(t)
	const value = "s3cr3t-Value-42"
	set := e.command(t.TempDir(), "secret", "set", "API_TOKEN")
	set.Stdin = strings.NewReader(value + "\n")
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	if r := e.run(t.TempDir(), "secret", "list"); strings.TrimSpace(r.stdout) != "API_TOKEN" {
		t.Errorf("secret list: %q", r.stdout)
	}
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: s
    actions:
      - name: leak
        secrets: [API_TOKEN]
        run: |
          echo "plain: $API_TOKEN"
          # the value split across two writes
          half=$(( ${#API_TOKEN} / 2 ))
          printf 'split: %s' "${API_TOKEN:0:$half}"; sleep 0.2; printf '%s end\n' "${API_TOKEN:$half}"
          echo "inside:xx${API_TOKEN}yy and more text on a longer line"
      - name: without
        run: echo "unset=${API_TOKEN-yes}"
`})
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	logs := e.run(dir, "logs", "last")
	for what, out := range map[string]string{"live output": r.stdout, "stored log": logs.stdout} {
		if strings.Contains(out, value) || strings.Contains(out, value[:8]) && strings.Contains(out, value[8:]) {
			t.Errorf("%s shows the secret:\n%s", what, out)
		}
		for _, want := range []string{"plain: ***", "split: *** end", "inside:xx***yy and more"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", what, want, out)
			}
		}
	}
	if !strings.Contains(r.stdout, "unset=yes") {
		t.Errorf("an action that does not list the secret got it:\n%s", r.stdout)
	}
	// At rest: nothing under the data directory holds the value in clear.
	filepath.Walk(e.home, func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), value) {
				t.Errorf("%s contains the secret in clear", path)
			}
		}
		return nil
	})
	if r := e.run(t.TempDir(), "secret", "rm", "API_TOKEN"); r.code != 0 {
		t.Errorf("secret rm: %d %s", r.code, r.stderr)
	}
	r = e.run(dir, "run", "--no-cache")
	if r.code != 1 || !strings.Contains(r.stdout, "velocity secret set API_TOKEN") {
		t.Errorf("a missing secret must fail the action and say how to set it: exit %d\n%s", r.code, r.stdout)
	}
}
