package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/expr"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

// compile parses a definition into a plan.
func compile(t *testing.T, yml string) *plan.Plan {
	t.Helper()
	p, err := spec.Parse("velocity.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return plan.Compile(p)
}

// want checks actions' statuses and that each reason contains a text.
func want(t *testing.T, acts map[string]store.Action, statuses map[string]store.Status, reasons map[string]string) {
	t.Helper()
	for k, st := range statuses {
		if acts[k].Status != st {
			t.Errorf("%s: %s (%s), want %s", k, acts[k].Status, acts[k].Reason, st)
		}
	}
	for k, r := range reasons {
		if !strings.Contains(acts[k].Reason, r) {
			t.Errorf("%s: reason %q, want it to contain %q", k, acts[k].Reason, r)
		}
	}
}

func TestFalseConditionSkipsTheActionAndItsDependents(t *testing.T) {
	h := newHarness(t, 4)
	out, acts := h.runFacts(context.Background(), compile(t, `
stages:
  - name: s
    actions:
      - { name: build, run: "true" }
      - { name: deploy, run: "true", needs: [build], if: "branch == 'main'" }
      - { name: smoke, run: "true", needs: [deploy] }
      - { name: report, run: "true", needs: [deploy], if: always() }
      - { name: other, run: "true", if: "branch != 'main' && env.X == 'y'", env: {X: y} }
  - name: next
    actions:
      - { name: later, run: "true" }
`), expr.Facts{Branch: "feature", Event: "local"})
	if out.Status != store.Succeeded {
		t.Fatalf("outcome %+v: a false condition is no failure", out)
	}
	want(t, acts, map[string]store.Status{
		"s/build": store.Succeeded, "s/deploy": store.Skipped, "s/smoke": store.Skipped,
		"s/report": store.Succeeded, "s/other": store.Succeeded, "next/later": store.Succeeded,
	}, map[string]string{
		"s/deploy": "if: branch == 'main' was false",
		"s/smoke":  `needs "deploy", which was skipped`,
	})
}

func TestFailureConditionRunsOnlyAfterAFailure(t *testing.T) {
	for _, fail := range []bool{false, true} {
		h := newHarness(t, 4)
		test := "true"
		if fail {
			test = "exit 3"
		}
		out, acts := h.run(context.Background(), compile(t, `
stages:
  - name: s
    actions:
      - { name: test, run: "`+test+`" }
      - { name: package, run: "true", needs: [test] }
      - { name: notify, run: "true", needs: [package], if: failure() }
      - { name: cleanup, run: "true", needs: [test], if: always() }
    finally:
      - { name: page, run: "true", if: failure() }
      - { name: tidy, run: "true", if: "branch == ''" }
`))
		wantStatus := store.Succeeded
		notify := store.Skipped
		if fail {
			wantStatus, notify = store.Failed, store.Succeeded
		}
		if out.Status != wantStatus {
			t.Errorf("fail=%v: outcome %+v", fail, out)
		}
		want(t, acts, map[string]store.Status{
			"s/notify": notify, "s/page": notify, "s/cleanup": store.Succeeded,
			// A finally action's condition has no implicit success().
			"s/tidy": store.Succeeded,
		}, nil)
		if !fail {
			want(t, acts, nil, map[string]string{"s/notify": "if: failure() was false"})
		}
	}
}

func TestStageConditionSkipsTheStage(t *testing.T) {
	h := newHarness(t, 4)
	out, acts := h.runFacts(context.Background(), compile(t, `
stages:
  - name: docs
    if: changed('docs/**')
    approval: manual
    actions:
      - { name: publish, run: "exit 1" }
  - name: code
    if: changed('src/**')
    actions:
      - { name: test, run: "true" }
`), expr.Facts{Changed: []string{"src/main.go"}, ChangesKnown: true})
	if out.Status != store.Succeeded {
		t.Fatalf("outcome %+v", out)
	}
	want(t, acts, map[string]store.Status{"docs/publish": store.Skipped, "code/test": store.Succeeded},
		map[string]string{"docs/publish": "if: changed('docs/**') was false"})
}

func TestMatrixCellsGetTheirValuesAndMaxParallel(t *testing.T) {
	h := newHarness(t, 8)
	// Each cell records its values and how many cells ran beside it.
	out, acts := h.run(context.Background(), compile(t, `
stages:
  - name: s
    actions:
      - name: cell
        run: |
          mkdir -p running && touch running/$MATRIX_GO-$MATRIX_OS
          sleep 0.3
          echo "$MATRIX_GO $MATRIX_OS $(ls running | wc -l)" > "out-$MATRIX_GO-$MATRIX_OS"
          rm running/$MATRIX_GO-$MATRIX_OS
        matrix:
          go: ["1", "2"]
          os: [a, b]
          max_parallel: 2
        cache: false
      - { name: after, run: "ls out-* | wc -l > count", needs: [cell], cache: false }
`))
	if out.Status != store.Succeeded {
		t.Fatalf("outcome %+v", out)
	}
	for _, c := range []string{"1-a", "1-b", "2-a", "2-b"} {
		data, err := os.ReadFile(filepath.Join(h.dir, "out-"+c))
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(data))
		if f[0]+"-"+f[1] != c {
			t.Errorf("cell %s saw %q", c, data)
		}
		if f[2] > "2" {
			t.Errorf("cell %s ran beside %s cells, max_parallel is 2", c, f[2])
		}
	}
	if data, _ := os.ReadFile(filepath.Join(h.dir, "count")); strings.TrimSpace(string(data)) != "4" {
		t.Errorf("after ran before every cell finished: %q", data)
	}
	if acts["s/cell@go=2,os=b"].Status != store.Succeeded {
		t.Errorf("actions: %v", acts)
	}
}

func TestFailFastStopsTheOtherCells(t *testing.T) {
	h := newHarness(t, 2)
	start := time.Now()
	out, acts := h.run(context.Background(), compile(t, `
stages:
  - name: s
    actions:
      - name: t
        run: 'if [ "$MATRIX_N" = 1 ]; then sleep 0.2; exit 1; fi; sleep 30'
        matrix: {n: ["1", "2", "3"]}
        cache: false
`))
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run took %v: the running cell was not stopped", d)
	}
	if out.Status != store.Failed || !strings.Contains(out.Reason, "s/t@n=1") {
		t.Errorf("outcome %+v, want failed naming the failed cell", out)
	}
	want(t, acts, map[string]store.Status{
		"s/t@n=1": store.Failed, "s/t@n=2": store.Cancelled, "s/t@n=3": store.Cancelled,
	}, map[string]string{
		"s/t@n=2": "t@n=1 failed (fail_fast)",
		"s/t@n=3": "t@n=1 failed (fail_fast)",
	})
}

func TestNoFailFastLetsTheOtherCellsFinish(t *testing.T) {
	h := newHarness(t, 1)
	out, acts := h.run(context.Background(), compile(t, `
stages:
  - name: s
    actions:
      - name: t
        run: 'test "$MATRIX_N" != 1'
        matrix: {n: ["1", "2", "3"], fail_fast: false}
        cache: false
      - { name: other, run: "true", needs: [t] }
`))
	if out.Status != store.Failed {
		t.Errorf("outcome %+v", out)
	}
	want(t, acts, map[string]store.Status{
		"s/t@n=1": store.Failed, "s/t@n=2": store.Succeeded, "s/t@n=3": store.Succeeded, "s/other": store.Skipped,
	}, map[string]string{"s/other": `needs "t@n=1", which failed`})
}

func TestCancelledConditionInFinally(t *testing.T) {
	h := newHarness(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	out, acts := h.run(ctx, compile(t, `
stages:
  - name: s
    actions:
      - { name: long, run: sleep 100 }
    finally:
      - { name: on-cancel, run: "true", if: cancelled() }
      - { name: on-success, run: "true", if: success() }
      - { name: plain, run: "true", if: "branch == ''" }
`))
	if out.Status != store.Cancelled {
		t.Fatalf("outcome %+v", out)
	}
	want(t, acts, map[string]store.Status{
		"s/long": store.Cancelled, "s/on-cancel": store.Succeeded, "s/on-success": store.Skipped, "s/plain": store.Succeeded,
	}, map[string]string{"s/on-success": "if: success() was false"})
}
