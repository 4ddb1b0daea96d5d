package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// These sources cost gigabytes before definitions were bounded: a
// velocity.yml nested 100,000 deep took more than 12 GB, its alias bomb
// 3 GB and a minute, 100 MB of it 3.2 GB; an .asl.yaml nested as deep 15
// GB and 44 s.
func hostileSources() (velocityYML, aslYAML map[string]string) {
	const depth = 100_000
	nested := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	rep := func(alias string, n int) string { return strings.TrimSuffix(strings.Repeat(alias+", ", n), ", ") }
	pad := strings.Repeat("# "+strings.Repeat("x", 1021)+"\n", 1100) // 1.1 MiB
	velocityYML = map[string]string{
		"nested": "stages: " + nested + "\n",
		"alias bomb": fmt.Sprintf("stages: [&s {name: s, actions: [&a {name: a, run: x, sidecars: [&c {name: c, run: y}, %s]}, %s]}, %s]\n",
			rep("*c", 299), rep("*a", 299), rep("*s", 299)),
		"too large": "stages:\n  - name: s\n    actions:\n      - {name: a, run: x}\n" + pad,
	}
	pass := "StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n    Result: "
	var bomb strings.Builder
	bomb.WriteString(pass + "\n      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&bomb, "      l%d: &l%d [%s]\n", i, i, rep(fmt.Sprintf("*l%d", i-1), 10))
	}
	aslYAML = map[string]string{
		"nested":     pass + nested + "\n",
		"alias bomb": bomb.String(),
		"too large":  pass + "1\n" + pad,
	}
	return velocityYML, aslYAML
}

// limitNamed is the limit each hostile source runs into.
var limitNamed = map[string]string{
	"nested":     `(limit "max nesting depth" is 200)`,
	"alias bomb": `(limit "max alias expansion" is 1000000)`,
	"too large":  `(limit "max definition size" is 1048576 bytes)`,
}

// checkRefusedCheaply requires r to be a refusal naming the limit at a
// file position, that cost under a second of CPU and 100 MB of memory.
func checkRefusedCheaply(t *testing.T, r result, file, limit string, took time.Duration) {
	t.Helper()
	if r.code != 2 || !strings.Contains(r.stderr, limit) || !strings.Contains(r.stderr, file+":") {
		t.Fatalf("exit %d, stderr %.400q; want exit 2 naming %s at a position in %s", r.code, r.stderr, limit, file)
	}
	if os.Getenv("VELOCITY_E2E_RACE") != "" {
		return // the race detector multiplies both
	}
	// CPU time rather than wall time: the machine may be shared.
	cpu := time.Duration(r.rusage.Utime.Nano() + r.rusage.Stime.Nano())
	if cpu > time.Second || took > 10*time.Second {
		t.Errorf("refused after %v of CPU (%v wall), want under a second", cpu, took)
	}
	if rss := r.rusage.Maxrss; rss > 100<<10 {
		t.Errorf("refused at %d MB of memory, want under 100 MB", rss>>10)
	}
}

func TestHostileVelocityYMLIsRefusedCheaply(t *testing.T) {
	sources, _ := hostileSources()
	for name, src := range sources {
		dir := project(t, map[string]string{"velocity.yml": src})
		for _, cmd := range []string{"validate", "run"} {
			t.Run(name+"/"+cmd, func(t *testing.T) {
				e := newEnv(t)
				start := time.Now()
				r := e.run(dir, cmd)
				checkRefusedCheaply(t, r, "velocity.yml", limitNamed[name], time.Since(start))
			})
		}
	}
}

func TestHostileASLYAMLIsRefusedCheaply(t *testing.T) {
	_, sources := hostileSources()
	for name, src := range sources {
		dir := project(t, map[string]string{"d.asl.yaml": src})
		for _, cmd := range []string{"validate", "run"} {
			t.Run(name+"/"+cmd, func(t *testing.T) {
				e := newEnv(t)
				start := time.Now()
				r := e.run(dir, "workflow", cmd, "d.asl.yaml")
				checkRefusedCheaply(t, r, "d.asl.yaml", limitNamed[name], time.Since(start))
			})
		}
	}
}

func TestLongChainValidatesQuickly(t *testing.T) {
	// Storing every action's transitive needs took 55 s and 4 GB here.
	var b strings.Builder
	b.WriteString("stages:\n  - name: s\n    actions:\n      - {name: a0, run: \"true\"}\n")
	for i := 1; i < 20_000; i++ {
		fmt.Fprintf(&b, "      - {name: a%d, run: \"true\", needs: [a%d]}\n", i, i-1)
	}
	dir := project(t, map[string]string{"velocity.yml": b.String()})
	e := newEnv(t)
	r := e.run(dir, "validate")
	if r.code != 0 || !strings.Contains(r.stdout, "20000 actions") {
		t.Fatalf("exit %d, stdout %q, stderr %.400q", r.code, r.stdout, r.stderr)
	}
	if os.Getenv("VELOCITY_E2E_RACE") != "" {
		return
	}
	if cpu := time.Duration(r.rusage.Utime.Nano() + r.rusage.Stime.Nano()); cpu > 2*time.Second {
		t.Errorf("validate took %v of CPU, want under 2 s", cpu)
	}
}

func TestNamesThatAreFoldersAreRefused(t *testing.T) {
	dir := project(t, map[string]string{"velocity.yml": `stages:
  - name: ..
    actions:
      - { name: a, run: "echo escaped > ../escaped" }
`})
	e := newEnv(t)
	r := e.run(dir, "run")
	want := `velocity.yml:2:11: stages[0].name: ".." is not a valid name`
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Fatalf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, want)
	}
}
