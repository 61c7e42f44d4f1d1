package e2e

// The playground over plain HTTP: what the page and its assets are served
// with, and where it is served at all. playground_browser_test.go runs it.

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/neuronmeet/api/internal/playground"
	"github.com/neuronmeet/api/test/harness"
)

// The page and every file it loads, directly or through its stylesheet and
// its configuration (Monaco's workers, the icon font), come from the
// server itself, with a policy that allows nothing else, and with cache
// headers that let browsers keep the hashed files and revalidate the page.
func TestPlayground_ServedFromTheServerWithStrictPolicyAndCacheHeaders(t *testing.T) {
	srv := harness.Start(t)
	page := srv.REST(http.MethodGet, "/", nil)
	if page.Status != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q", page.Status, page.Header.Get("Content-Type"))
	}
	checkPolicy(t, "GET /", page.Header)
	if cc := page.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("GET / Cache-Control = %q, want no-cache: it names the current assets", cc)
	}
	body := string(page.Body)
	for _, want := range []string{"<title>NeuronMeet API</title>", `"endpoint":"/query"`, `"defaultHeaders":"{\"Authorization\": \"Bearer \"}"`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET / lacks %s:\n%s", want, body)
		}
	}
	// The only inline script is the JSON configuration, which browsers
	// do not execute.
	for _, m := range regexp.MustCompile(`<script([^>]*)>`).FindAllStringSubmatch(body, -1) {
		if !strings.Contains(m[1], "src=") && !strings.Contains(m[1], `type="application/json"`) {
			t.Errorf("inline script %s: the policy would refuse it", m[0])
		}
	}

	urls := attrURLs(body)
	if len(urls) < 2 {
		t.Fatalf("GET / loads %v, want its script and stylesheet", urls)
	}
	for i := 0; i < len(urls); i++ {
		u := urls[i]
		if !strings.HasPrefix(u, playground.AssetsPath) {
			t.Errorf("GET / loads %s, outside %s on this server", u, playground.AssetsPath)
			continue
		}
		res := srv.REST(http.MethodGet, u, nil)
		if res.Status != http.StatusOK {
			t.Errorf("GET %s = %d", u, res.Status)
			continue
		}
		if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s Cache-Control = %q, want a year, immutable: the name is the content's hash", u, cc)
		}
		if res.Header.Get("Content-Type") == "" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s Content-Type %q, X-Content-Type-Options %q", u, res.Header.Get("Content-Type"), res.Header.Get("X-Content-Type-Options"))
		}
		checkPolicy(t, "GET "+u, res.Header)
		if etag := res.Header.Get("ETag"); etag == "" ||
			srv.REST(http.MethodGet, u, nil, harness.Header("If-None-Match", etag)).Status != http.StatusNotModified {
			t.Errorf("GET %s with its ETag %q is not answered 304", u, etag)
		}
		text := string(res.Body)
		if strings.HasSuffix(u, ".css") {
			// The stylesheet's own references (fonts): relative, so beside
			// it, or inline.
			for _, m := range regexp.MustCompile(`url\(\s*"?([^")]+)`).FindAllStringSubmatch(text, -1) {
				switch ref := m[1]; {
				case strings.HasPrefix(ref, "data:"):
				case strings.HasPrefix(ref, "./") && !strings.Contains(ref, "/.."):
					urls = append(urls, playground.AssetsPath+strings.TrimPrefix(ref, "./"))
				default:
					t.Errorf("%s refers to %s", u, ref)
				}
			}
		}
		// No CDN the usual setups load from appears in the bundle.
		for _, cdn := range []string{"esm.sh", "unpkg.com", "jsdelivr.net", "cdnjs.", "fonts.googleapis"} {
			if strings.Contains(text, cdn) {
				t.Errorf("%s mentions %s", u, cdn)
			}
		}
	}
	for _, name := range []string{"manifest.json", "no-such-file.js", "..%2fplayground.go"} {
		if res := srv.REST(http.MethodGet, playground.AssetsPath+name, nil); res.Status != http.StatusNotFound {
			t.Errorf("GET %s%s = %d, want 404: only the bundle's files are served", playground.AssetsPath, name, res.Status)
		}
	}
	t.Logf("checked %d files: %v", len(urls), urls)
	// The playground lives at / only; other paths are not it.
	if res := srv.REST(http.MethodGet, "/no-such-page", nil); res.Status != http.StatusNotFound {
		t.Errorf("GET /no-such-page = %d %.100s, want 404", res.Status, res.Body)
	}
}

// checkPolicy fails the test unless h carries a Content-Security-Policy
// that confines the page to its own origin and runs no inline script.
func checkPolicy(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src": "'self'", "script-src": "'self'", "connect-src": "'self'", "worker-src": "'self'",
		"object-src": "'none'", "frame-ancestors": "'none'", "base-uri": "'none'",
	} {
		if directives[name] != want {
			t.Errorf("%s: Content-Security-Policy %s is %q, want %q (policy %q)", what, name, directives[name], want, csp)
		}
	}
	for name, value := range directives {
		if strings.Contains(value, "http") || strings.Contains(value, "*") || (name != "style-src" && strings.Contains(value, "unsafe")) {
			t.Errorf("%s: Content-Security-Policy %s %q allows more than this server's own files", what, name, value)
		}
	}
}

// attrURLs are what page makes the browser fetch: its src and href
// attributes (but data: URLs, which are inline) and the URLs in its JSON
// configuration (the workers).
func attrURLs(page string) []string {
	var urls []string
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"|"(/[^"]*\.js)"`).FindAllStringSubmatch(page, -1) {
		if u := m[1] + m[2]; !strings.HasPrefix(u, "data:") {
			urls = append(urls, u)
		}
	}
	return urls
}

// GraphiQL is a development tool: on by default, off with
// APP_ENV=production unless PLAYGROUND=on, and off wherever PLAYGROUND=off.
func TestPlayground_OffInProductionUnlessAsked(t *testing.T) {
	dev := harness.Start(t)
	urls := attrURLs(string(dev.REST(http.MethodGet, "/", nil).Body))
	if len(urls) == 0 {
		t.Fatal("the development server's page loads nothing")
	}
	production := map[string]string{"APP_ENV": "production"}
	for _, c := range []struct {
		name string
		env  map[string]string
		on   bool
	}{
		{"development", nil, true},
		{"development, PLAYGROUND=off", map[string]string{"PLAYGROUND": "off"}, false},
		{"production", production, false},
		{"production, PLAYGROUND=on", map[string]string{"APP_ENV": "production", "PLAYGROUND": "on"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := harness.Start(t, harness.WithEnv(c.env))
			page, asset := srv.REST(http.MethodGet, "/", nil).Status, srv.REST(http.MethodGet, urls[0], nil).Status
			want := http.StatusNotFound
			if c.on {
				want = http.StatusOK
			}
			if page != want || asset != want {
				t.Errorf("GET / = %d, GET %s = %d; want %d", page, urls[0], asset, want)
			}
		})
	}
}

// The query the playground opens on is valid and shows the dashboard: the
// viewer's rooms with their settings and participants.
func TestPlayground_DefaultQueryShowsTheDashboard(t *testing.T) {
	srv := harness.Start(t)
	host := srv.Register("pg-dash@example.com", "Dashboard Host")
	hc := srv.WithToken(host.Token)
	room := hc.CreateRoom(map[string]any{"name": "Planning"})
	_, res := hc.Join(room.Code, nil)
	harness.MustSucceed(t, "host joins", res)
	var data struct {
		Me struct {
			Rooms []struct {
				Name         string
				Settings     struct{ MaxParticipants int }
				Participants []struct{ DisplayName string }
			}
		}
	}
	res = hc.GQL(playground.DefaultQuery, nil)
	harness.MustSucceed(t, "the default query", res)
	res.Decode(t, &data)
	if r := data.Me.Rooms; len(r) != 1 || r[0].Name != "Planning" || r[0].Settings.MaxParticipants == 0 ||
		len(r[0].Participants) != 1 || r[0].Participants[0].DisplayName != "Dashboard Host" {
		t.Errorf("the default query shows %+v", r)
	}
}
