package e2e

// The playground in a real browser: headless Chromium opens it on a test
// server, runs what a developer would and reads the answer off the page.
// Without /usr/bin/chromium these tests skip, and fail under CI=true.

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neuronmeet/api/test/harness"
)

// browserWithin bounds one browser test: Monaco is several megabytes of
// script to parse, on a shared 2-core machine.
const browserWithin = 90 * time.Second

// resultText is the response pane's text as shown (Monaco draws spaces as
// non-breaking ones).
const resultText = `(document.querySelector('.result-window .view-lines')?.innerText ?? '').replace(/\u00a0/g, ' ')`

// A developer opens the playground with their token in the headers, runs
// the dashboard query and reads their rooms in the response pane.
func TestPlayground_RunsAQueryInABrowser(t *testing.T) {
	srv := harness.Start(t)
	host := srv.Register("pg-host@example.com", "Playground Host")
	hc := srv.WithToken(host.Token)
	for _, name := range []string{"Morning Standup", "Design Review"} {
		hc.CreateRoom(map[string]any{"name": name})
	}

	b := openPlayground(t, srv, `{ me { rooms { name } } }`, "", host.Token)
	run(t, b)
	waitForResult(t, b, "Morning Standup", "Design Review")
	screenshot(t, b, "query.png")
	checkStayedHome(t, b, srv.URL)
}

// A subscription started from the playground shows the event a mutation
// made elsewhere causes, over the websocket on /query.
func TestPlayground_FollowsASubscriptionInABrowser(t *testing.T) {
	srv := harness.Start(t)
	host := srv.Register("pg-live@example.com", "Live Host")
	hc := srv.WithToken(host.Token)
	room := hc.CreateRoom(map[string]any{"name": "Weekly Sync"})

	b := openPlayground(t, srv,
		`subscription($room: ID!) { roomEvents(roomId: $room) { type roomName settings { maxParticipants } } }`,
		harness.JSON(map[string]any{"room": room.ID}), host.Token)
	run(t, b)
	// The event must happen after the subscription is in place, or it is
	// not this subscriber's to receive.
	srv.WaitSubscribers(1)
	harness.MustSucceed(t, "rename", hc.UpdateSettings(room.ID, map[string]any{"name": "Weekly Sync (moved)", "maxParticipants": 7}))
	waitForResult(t, b, `"SETTINGS_CHANGED"`, `"Weekly Sync (moved)"`, `"maxParticipants": 7`)
	screenshot(t, b, "subscription.png")
	checkStayedHome(t, b, srv.URL)
}

// Opened bare, the playground shows the dashboard query and a headers
// editor waiting for a token.
func TestPlayground_OpensOnTheDashboardInABrowser(t *testing.T) {
	srv := harness.Start(t)
	b := harness.StartBrowser(t, browserWithin)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(".graphiql-execute-button")); err != nil {
		t.Fatalf("opening the playground: %v\nconsole: %v", err, b.Console())
	}
	if title, err := chromedp.Run(b.Ctx, chromedp.Title()); err != nil || title != "NeuronMeet API" {
		t.Errorf("title %q (%v), want NeuronMeet API", title, err)
	}
	waitForEditor(t, b, ".graphiql-query-editor", "query Dashboard {", "settings {", "participants(activeOnly: true) {")
	waitForEditor(t, b, ".graphiql-editor-tool", `{"Authorization": "Bearer "}`)
	screenshot(t, b, "dashboard.png")
	checkStayedHome(t, b, srv.URL)
}

// openPlayground opens GET / on srv in a fresh browser with the query, its
// variables and the token's Authorization header in the editors, through
// the link parameters the page reads (typing into Monaco from a test is
// fragile; what runs and what it shows is still up to the page).
func openPlayground(t *testing.T, srv *harness.Server, query, variables, token string) *harness.Browser {
	t.Helper()
	b := harness.StartBrowser(t, browserWithin)
	q := url.Values{"query": {query}, "headers": {harness.JSON(map[string]string{"Authorization": "Bearer " + token})}}
	if variables != "" {
		q.Set("variables", variables)
	}
	if err := chromedp.Do(b.Ctx,
		chromedp.Navigate(srv.URL+"/?"+q.Encode()),
		chromedp.WaitVisible(".graphiql-execute-button"),
	); err != nil {
		t.Fatalf("opening the playground: %v\nconsole: %v", err, b.Console())
	}
	// The headers editor shows the token the page was given.
	waitForEditor(t, b, ".graphiql-editor-tool", "Bearer "+token)
	return b
}

// waitForEditor waits until the Monaco editors under selector show every
// one of want (the headers and variables editors share one container).
func waitForEditor(t *testing.T, b *harness.Browser, selector string, want ...string) {
	t.Helper()
	text := `[...document.querySelectorAll(` + harness.JSON(selector+" .view-lines") + `)].map(e => e.innerText).join('\n').replace(/\u00a0/g, ' ')`
	var checks []string
	for _, w := range want {
		checks = append(checks, text+".includes("+harness.JSON(w)+")")
	}
	if _, err := chromedp.Run(b.Ctx, chromedp.Poll[bool](strings.Join(checks, " && "), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		shown, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[string](text))
		t.Fatalf("%s never showed %q: %v\nit shows: %s", selector, want, err, shown)
	}
}

// run clicks the run button, as a developer would.
func run(t *testing.T, b *harness.Browser) {
	t.Helper()
	if err := chromedp.Do(b.Ctx, chromedp.Click(".graphiql-execute-button")); err != nil {
		t.Fatalf("clicking run: %v", err)
	}
}

// waitForResult waits until the response pane shows every one of want.
func waitForResult(t *testing.T, b *harness.Browser, want ...string) {
	t.Helper()
	cond := resultText + `.replace(/\s+/g, ' ')`
	var checks []string
	for _, w := range want {
		checks = append(checks, cond+".includes("+harness.JSON(strings.Join(strings.Fields(w), " "))+")")
	}
	_, err := chromedp.Run(b.Ctx, chromedp.Poll[bool](strings.Join(checks, " && "), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		shown, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[string](resultText))
		screenshot(t, b, "failed.png")
		t.Fatalf("the response pane never showed %q: %v\nit shows: %s\nconsole: %v", want, err, shown, b.Console())
	}
}

// screenshot saves the page under the test's artifact directory (kept
// with go test -artifacts, a temporary directory otherwise) and logs where.
func screenshot(t *testing.T, b *harness.Browser, name string) {
	t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// checkStayedHome fails the test if the page requested anything from
// another origin than the server's, or logged an error or warning (a
// Content-Security-Policy refusal is one).
func checkStayedHome(t *testing.T, b *harness.Browser, base string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	requests := b.Requests()
	if len(requests) < 3 {
		t.Errorf("the browser recorded only %v", requests)
	}
	for _, r := range requests {
		switch ru, err := url.Parse(r); {
		case err != nil:
			t.Errorf("request to %q", r)
		case ru.Scheme == "data" || r == "about:blank":
		case ru.Host != u.Host || (ru.Scheme != "http" && ru.Scheme != "ws"):
			t.Errorf("the page requested %s, not on %s", r, base)
		}
	}
	for _, line := range b.Console() {
		t.Errorf("the page logged %s", line)
	}
}
