package scaffold

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// pipelineDoc mirrors schema v1 of velocity.yml. Decoding generated files
// into it strictly proves they use no key outside the schema.
type pipelineDoc struct {
	Name           string            `yaml:"name"`
	Env            map[string]string `yaml:"env"`
	EnvPassthrough []string          `yaml:"env_passthrough"`
	Stages         []stageDoc        `yaml:"stages"`
}

type stageDoc struct {
	Name      string      `yaml:"name"`
	Actions   []actionDoc `yaml:"actions"`
	OnFailure []actionDoc `yaml:"on_failure"`
	Finally   []actionDoc `yaml:"finally"`
}

type actionDoc struct {
	Name         string            `yaml:"name"`
	Run          string            `yaml:"run"`
	Needs        []string          `yaml:"needs"`
	Env          map[string]string `yaml:"env"`
	Timeout      string            `yaml:"timeout"`
	Retry        *retryDoc         `yaml:"retry"`
	AllowFailure bool              `yaml:"allow_failure"`
	Cache        []string          `yaml:"cache"`
	CacheKey     []string          `yaml:"cache_key"`
}

type retryDoc struct {
	Attempts int    `yaml:"attempts"`
	Backoff  string `yaml:"backoff"`
}

// writeFiles creates files (path relative to dir → content) in dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// parseDoc decodes generated text strictly and checks the invariants every
// generated file must keep: one stage named build, named actions with a
// script, needs naming earlier actions, valid durations.
func parseDoc(t *testing.T, text []byte) pipelineDoc {
	t.Helper()
	var doc pipelineDoc
	if err := yaml.UnmarshalWithOptions(text, &doc, yaml.Strict()); err != nil {
		t.Fatalf("generated YAML doesn't parse: %v\n%s", err, text)
	}
	if len(doc.Stages) != 1 || doc.Stages[0].Name != "build" {
		t.Fatalf("stages = %+v, want one stage named build", doc.Stages)
	}
	seen := map[string]bool{}
	for _, a := range doc.Stages[0].Actions {
		if a.Name == "" || strings.TrimSpace(a.Run) == "" {
			t.Errorf("action %+v lacks a name or run", a)
		}
		if seen[a.Name] {
			t.Errorf("action %q defined twice", a.Name)
		}
		for _, n := range a.Needs {
			if !seen[n] {
				t.Errorf("action %q needs %q, which isn't an earlier action", a.Name, n)
			}
		}
		seen[a.Name] = true
		if a.Timeout != "" {
			if _, err := time.ParseDuration(a.Timeout); err != nil {
				t.Errorf("action %q: timeout: %v", a.Name, err)
			}
		}
		if a.Retry != nil {
			if a.Retry.Attempts < 1 {
				t.Errorf("action %q: retry attempts %d", a.Name, a.Retry.Attempts)
			}
			if _, err := time.ParseDuration(a.Retry.Backoff); err != nil {
				t.Errorf("action %q: retry backoff: %v", a.Name, err)
			}
		}
	}
	return doc
}

// actionNames lists the names of a stage's actions in order.
func actionNames(s stageDoc) []string {
	var names []string
	for _, a := range s.Actions {
		names = append(names, a.Name)
	}
	return names
}

// needTools skips the test when a tool is missing on a developer machine,
// but fails it under CI, where a skipped kind would hide a regression.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required under CI=true: %v", tool, err)
			}
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
}

// runStage executes the actions of doc's first stage in dir the way
// `velocity run` does: bash -eo pipefail, the documented environment, and
// each action started once its needs succeeded, concurrently otherwise.
func runStage(t *testing.T, dir string, doc pipelineDoc) {
	t.Helper()
	stage := doc.Stages[0]
	done := make(map[string]chan struct{}, len(stage.Actions))
	var mu sync.Mutex
	ok := map[string]bool{}
	for _, a := range stage.Actions {
		done[a.Name] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for _, a := range stage.Actions {
		wg.Go(func() {
			defer close(done[a.Name])
			for _, n := range a.Needs {
				<-done[n]
				mu.Lock()
				needOK := ok[n]
				mu.Unlock()
				if !needOK {
					t.Errorf("action %q not run: need %q failed", a.Name, n)
					return
				}
			}
			timeout := 5 * time.Minute
			if a.Timeout != "" {
				if d, err := time.ParseDuration(a.Timeout); err == nil && d < timeout {
					timeout = d
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-eo", "pipefail", "-c", a.Run)
			cmd.Dir = dir
			cmd.Env = []string{
				"HOME=" + os.Getenv("HOME"),
				"PATH=" + os.Getenv("PATH"),
				"CI=true",
				"VELOCITY_RUN_ID=test-run",
				"VELOCITY_PROJECT=" + doc.Name,
				"VELOCITY_COMMIT=0000000000000000000000000000000000000000",
				"VELOCITY_BRANCH=main",
				"VELOCITY_STAGE=" + stage.Name,
				"VELOCITY_ACTION=" + a.Name,
			}
			for k, v := range doc.Env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			for k, v := range a.Env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("action %q (%s) failed: %v\n%s", a.Name, a.Run, err, out)
				return
			}
			mu.Lock()
			ok[a.Name] = true
			mu.Unlock()
		})
	}
	wg.Wait()
}
