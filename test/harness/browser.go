package harness

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's Chromium, which .ci/run installs when missing.
const ChromiumPath = "/usr/bin/chromium"

// Browser is a headless Chromium tab for the rest of the test, with what
// the page did recorded: every URL it requested and every error or
// warning it logged (a Content-Security-Policy violation is one).
type Browser struct {
	// Ctx runs chromedp actions in the tab.
	Ctx      context.Context
	mu       sync.Mutex
	requests []string
	console  []string
}

// StartBrowser starts Chromium for the test. Without it the test is
// skipped, or fails under CI=true (Missing). Each browser gets a fresh
// profile (no stored tabs or headers from another run), and it is started
// with every background service off: the machine's network is closed, and
// Chromium otherwise stalls on look-ups for updates, sync and the like.
func StartBrowser(t testing.TB, within time.Duration) *Browser {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		Missing(t, "chromium not installed ("+err.Error()+")", ".ci/run installs it",
			"apt-get install -y --no-install-recommends chromium")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI, where the sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	)
	ctx, cancelTab := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, within)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	b := &Browser{Ctx: ctx}
	// A first action starts the browser and the tab, which Listen needs.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
		case *network.EventWebSocketCreated:
			b.requests = append(b.requests, ev.URL)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				b.console = append(b.console, string(ev.Type)+": "+consoleText(ev.Args))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			if d.Exception != nil && d.Exception.Description != "" {
				b.console = append(b.console, "exception: "+d.Exception.Description)
			} else {
				b.console = append(b.console, "exception: "+d.Text)
			}
		case *log.EventEntryAdded:
			// The browser's own reports: a refused load (the policy's
			// violations among them), a failed request.
			if e := ev.Entry; e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning {
				b.console = append(b.console, fmt.Sprintf("%s %s: %s %s", e.Source, e.Level, e.Text, e.URL))
			}
		}
	})
	if err != nil {
		t.Fatalf("listening to chromium: %v", err)
	}
	return b
}

func consoleText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		if a.Description != "" {
			parts = append(parts, a.Description)
		} else {
			parts = append(parts, strings.Trim(string(a.Value), `"`))
		}
	}
	return strings.Join(parts, " ")
}

// Requests are the URLs the page has requested so far, websockets
// included.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}

// Console is what the page has logged as errors or warnings so far, and
// its uncaught exceptions.
func (b *Browser) Console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}
