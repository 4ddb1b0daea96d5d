package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is a real headless Chromium (Debian's chromium package) driven
// through the DevTools protocol.
type browser struct {
	ctx context.Context
}

// newBrowser starts Chromium for the test; it is required under CI=true.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	requireTool(t, "chromium")
	path, _ := exec.LookPath("chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// As root in a container, Chromium's sandbox cannot start.
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser, which lives as long as the
	// context of that call: it takes no timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{ctx: ctx}
}

// do carries out actions within timeout.
func (b *browser) do(t *testing.T, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		url, _ := chromedp.Run(b.ctx, chromedp.Location())
		t.Fatalf("browser at %s: %v", url, err)
	}
}

// get runs one action that returns a value, within timeout.
func browserGet[T any](t *testing.T, b *browser, timeout time.Duration, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		url, _ := chromedp.Run(b.ctx, chromedp.Location())
		t.Fatalf("browser at %s: %v", url, err)
	}
	return v
}

// screenshot saves the page as docs/images/NAME.png when
// VELOCITY_SCREENSHOTS is set (to refresh the docs' images), else in the
// test's temp dir.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	png := browserGet(t, b, 30*time.Second, chromedp.FullScreenshot(100))
	dir := t.TempDir()
	if os.Getenv("VELOCITY_SCREENSHOTS") != "" {
		dir = filepath.Join("..", "docs", "images")
		os.MkdirAll(dir, 0o755)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
