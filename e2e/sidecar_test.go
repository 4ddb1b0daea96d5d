package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRedisSidecar(t *testing.T) {
	requireTool(t, "redis-server")
	requireTool(t, "redis-cli")
	e := newEnv(t)
	ports := t.TempDir()
	for _, outcome := range []string{"pass", "fail"} {
		t.Run(outcome, func(t *testing.T) {
			dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: test
    actions:
      - name: integration
        cache: false
        sidecars:
          - name: redis
            run: exec redis-server --port "$PORT" --save '' --appendonly no --dir "$VELOCITY_SIDECAR_DIR"
            ready: redis-cli -p "$PORT" ping
        run: |
          echo "$REDIS_PORT" > "` + ports + `/` + outcome + `"
          redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" set greeting hello
          test "$(redis-cli -p "$REDIS_PORT" get greeting)" = hello
          echo "talked to redis at $REDIS_ADDR"
          test ` + outcome + ` = pass
`})
			r := e.run(dir, "run")
			want := map[string]int{"pass": 0, "fail": 1}[outcome]
			if r.code != want {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, want, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "talked to redis at 127.0.0.1:") {
				t.Errorf("output:\n%s", r.stdout)
			}
			port := waitFile(t, filepath.Join(ports, outcome))
			// The sidecar is gone afterwards, whatever the outcome.
			deadline := time.Now().Add(5 * time.Second)
			for {
				c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 200*time.Millisecond)
				if err != nil {
					break
				}
				c.Close()
				if time.Now().After(deadline) {
					t.Fatalf("redis on port %s still accepts connections after the run", port)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if entries, _ := os.ReadDir(filepath.Join(e.home, "tmp")); len(entries) != 0 {
				t.Errorf("sidecar directories left behind: %v", entries)
			}
		})
	}
}
