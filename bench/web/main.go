// Command web measures the web UI's run page: a finished run of 50
// actions (three stages, chains of needs, ten lines of coloured log
// each, one action cached and one failed) rendered by the Site over the
// real runs service and SQLite journal, in this process, against the
// same bytes served as a plain static page by the same handler chain of
// net/http. The static page is the baseline: the ratio is what rendering
// from the journal and the logs costs over serving a file.
//
// Usage, from anywhere in the module:
//
//	go run ./bench/web [-actions 50] [-lines 10] [-rounds 50]
//
// It prints the page's weight, the median and the 95th percentile of
// the server-side time of both pages over the rounds, and their ratio.
// The goals: the run page under 200 KB and its median render under
// 300 ms; the command exits 1 when either is missed.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/web"
)

// Goals for the run page of a 50-action run.
const (
	maxWeight = 200 << 10
	maxRender = 300 * time.Millisecond
)

func main() {
	actions := flag.Int("actions", 50, "actions in the run")
	lines := flag.Int("lines", 10, "log lines of each action")
	rounds := flag.Int("rounds", 50, "renders of each page")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the rounds to this file")
	flag.Parse()
	if *profile != "" {
		stop, err := startProfile(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/web:", err)
			os.Exit(1)
		}
		defer stop()
	}
	if err := run(*actions, *lines, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench/web:", err)
		os.Exit(1)
	}
}

func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func run(actions, lines, rounds int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "velocity-bench-web-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := journalRun(ctx, st, dir, actions, lines)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.DiscardHandler)
	tokens := access.New(access.Config{Store: st})
	site := &web.Site{Runs: runs.New(runs.Config{Store: st, DataDir: dir, Logger: quiet}), Access: tokens,
		Key: bytes.Repeat([]byte{7}, 32), Log: quiet}
	h := site.Handler()
	cookie, err := login(ctx, h, tokens)
	if err != nil {
		return err
	}
	page := fmt.Sprintf("/runs/%d", id)
	body, _, err := get(h, page, cookie)
	if err != nil {
		return err
	}
	static := staticPage(body)
	dyn, base := make([]time.Duration, 0, rounds), make([]time.Duration, 0, rounds)
	// Alternating the two pages shares the machine's load between them.
	for range rounds {
		_, d, err := get(h, page, cookie)
		if err != nil {
			return err
		}
		_, b, err := get(static, "/", cookie)
		if err != nil {
			return err
		}
		dyn, base = append(dyn, d), append(base, b)
	}
	return report(len(body), actions, lines, dyn, base)
}

// journalRun writes a finished run of n actions, with their attempts
// and logs, as the runs service journals one.
func journalRun(ctx context.Context, st store.Store, dir string, n, lines int) (int64, error) {
	start := time.Now().Add(-time.Hour)
	stages := []string{"build", "test", "package"}
	var acts []store.Action
	for i := range n {
		si := i * len(stages) / n
		a := store.Action{StageIndex: si, Stage: stages[si], Name: fmt.Sprintf("action-%02d", i), Kind: store.KindAction, Status: store.Pending, Attempts: 1}
		// Chains of three inside a stage: needs edges to draw.
		if i%3 != 0 && i > 0 && (i-1)*len(stages)/n == si {
			a.Needs = []string{fmt.Sprintf("action-%02d", i-1)}
		}
		acts = append(acts, a)
	}
	id, err := st.CreateRun(ctx, store.Run{Project: "bench", Commit: "0123456789abcdef0123456789abcdef01234567", Branch: "main",
		Status: store.Running, Trigger: "push by bench", Created: start}, acts)
	if err != nil {
		return 0, err
	}
	for i, a := range acts {
		if err := journalAttempt(ctx, st, dir, id, i, a, lines, start); err != nil {
			return 0, err
		}
	}
	return id, st.FinishRun(ctx, id, store.Failed, "build/action-07 failed", start.Add(time.Minute))
}

func journalAttempt(ctx context.Context, st store.Store, dir string, id int64, i int, a store.Action, lines int, start time.Time) error {
	log := filepath.Join(dir, fmt.Sprintf("%s-%s.log", a.Stage, a.Name))
	var b bytes.Buffer
	for l := range lines {
		fmt.Fprintf(&b, "\x1b[32mok\x1b[0m  \tgithub.com/example/app/internal/pkg%02d\t0.%03ds\tline %d\n", i, l*7, l+1)
	}
	if err := os.WriteFile(log, b.Bytes(), 0o644); err != nil {
		return err
	}
	at := store.Attempt{RunID: id, Stage: a.Stage, Action: a.Name, N: 1, Status: store.Running, Log: log,
		Started: start.Add(time.Duration(i) * time.Second)}
	if err := st.StartAttempt(ctx, at); err != nil {
		return err
	}
	at.Status, at.Finished = store.Succeeded, at.Started.Add(1500*time.Millisecond)
	switch i {
	case 7:
		at.Status, at.ExitCode, at.Reason = store.Failed, 1, "exit status 1"
	case 3:
		at.Status, at.CachedFrom = store.Cached, id-1
	}
	return st.FinishAttempt(ctx, at, true, false)
}

// login is the session cookie of a new admin token, got as a browser
// gets it.
func login(ctx context.Context, h http.Handler, tokens *access.Service) (*http.Cookie, error) {
	secret, err := tokens.Create(ctx, "bench", access.Admin)
	if err != nil {
		return nil, err
	}
	req := httptest.NewRequest("POST", "/login", bytes.NewBufferString(url.Values{"token": {secret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		return c, nil
	}
	return nil, fmt.Errorf("login: %d, no session cookie", rec.Code)
}

// get serves path by h in this process and times it.
func get(h http.Handler, path string, cookie *http.Cookie) ([]byte, time.Duration, error) {
	req := httptest.NewRequest("GET", path, nil)
	req.AddCookie(cookie)
	rec := httptest.NewRecorder()
	began := time.Now()
	h.ServeHTTP(rec, req)
	took := time.Since(began)
	if rec.Code != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: %d", path, rec.Code)
	}
	return rec.Body.Bytes(), took, nil
}

// staticPage serves body as a file would be: the baseline.
func staticPage(body []byte) http.Handler {
	mod := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "run.html", mod, bytes.NewReader(body))
	})
}

func report(weight, actions, lines int, dyn, base []time.Duration) error {
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	p95 := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)*95/100] }
	md, mb := med(dyn), med(base)
	w := io.Writer(os.Stdout)
	fmt.Fprintf(w, "run page of %d actions, %d log lines each\n", actions, lines)
	fmt.Fprintf(w, "weight        %7.1f KB (goal < %d KB)\n", float64(weight)/1024, maxWeight>>10)
	fmt.Fprintf(w, "run page      median %8s  p95 %8s (goal median < %s)\n", md.Round(time.Microsecond), p95(dyn).Round(time.Microsecond), maxRender)
	fmt.Fprintf(w, "static page   median %8s  p95 %8s\n", mb.Round(time.Microsecond), p95(base).Round(time.Microsecond))
	fmt.Fprintf(w, "ratio         %.1f× the static page\n", float64(md)/float64(max(mb, 1)))
	if weight >= maxWeight || md >= maxRender {
		return fmt.Errorf("missed a goal: %d bytes, %s", weight, md)
	}
	return nil
}
