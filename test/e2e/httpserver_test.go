package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"github.com/neuronmeet/api/app"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neuronmeet/api/db/dbtest"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records decodes the JSON log lines.
func (b *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		out = append(out, rec)
	}
	return out
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Every response names its request, and every log line written while
// serving it carries the same id; a proxy's id is adopted.
func TestHTTP_RequestIDsInResponsesAndLogs(t *testing.T) {
	logs := &syncBuffer{}
	srv := newLoggedTestServer(t, dbtest.Open(t, "sqlite"), logs)
	_, header, _ := srv.do(http.MethodGet, "/healthz", "", nil)
	id := header.Get("X-Request-Id")
	if !hexID.MatchString(id) {
		t.Fatalf("X-Request-Id %q, want 32 hex digits", id)
	}
	_, header2, _ := srv.do(http.MethodGet, "/healthz", "", nil)
	if header2.Get("X-Request-Id") == id {
		t.Error("two requests got the same id")
	}
	status, header, _ := srv.send(http.MethodPost, "/auth/login", map[string]string{"email": "x@example.com", "password": "wrong-password"},
		map[string]string{"X-Request-Id": "proxy-id-42"})
	if status != http.StatusUnauthorized || header.Get("X-Request-Id") != "proxy-id-42" {
		t.Errorf("proxy's id: HTTP %d, X-Request-Id %q", status, header.Get("X-Request-Id"))
	}
	found := map[string]bool{}
	for _, rec := range logs.records(t) {
		if rec["msg"] == "request" {
			found[rec["request_id"].(string)] = true
			if rec["request_id"] == "proxy-id-42" && (rec["status"] != float64(401) || rec["path"] != "/auth/login") {
				t.Errorf("access log line %v", rec)
			}
		}
	}
	if !found[id] || !found["proxy-id-42"] {
		t.Errorf("access log lacks the request ids %q and proxy-id-42: %s", id, logs.String())
	}
}

// A panic anywhere under the middleware is a masked 500 for the client
// and a logged stack-free error, with the id the client got, for us.
func TestHTTP_PanicsAreRecoveredAndMasked(t *testing.T) {
	logs := &syncBuffer{}
	srv := newLoggedTestServer(t, dbtest.Open(t, "sqlite"), logs)
	panicky := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret detail: connection string postgres://admin:hunter2@db")
	})
	h := httptest.NewServer(srv.app.Wrap(panicky))
	defer h.Close()
	resp, err := http.Get(h.URL + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusInternalServerError || string(body) != `{"statusCode":500,"message":"Internal server error"}` || !hexID.MatchString(id) {
		t.Errorf("panic answered HTTP %d %s (id %q)", resp.StatusCode, body, id)
	}
	if !strings.Contains(logs.String(), `"msg":"handler panicked"`) || !strings.Contains(logs.String(), `"request_id":"`+id+`"`) {
		t.Errorf("panic not logged with the request id %s:\n%s", id, logs.String())
	}
	// The server goes on serving.
	if status, _, _ := srv.do(http.MethodGet, "/healthz", "", nil); status != http.StatusOK {
		t.Errorf("after a panic: HTTP %d", status)
	}
}

// Nothing a client sends as a secret reaches the logs, even at debug
// level, through any path that logs: failed logins, bad tokens, bad
// bodies, oversized bodies, refused documents, GET queries.
func TestHTTP_LogsHoldNoSecrets(t *testing.T) {
	logs := &syncBuffer{}
	srv := newLoggedTestServer(t, dbtest.Open(t, "sqlite"), logs, map[string]string{"GRAPHQL_MAX_BODY_BYTES": "2048"})
	const password, wrong = "pw-Secret-1234", "pw-Wrong-5678"
	res := srv.gql("", `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": "ada@example.com", "password": password, "displayName": "Ada"}})
	var reg struct{ Register struct{ AccessToken string } }
	res.decode(t, &reg)
	token := reg.Register.AccessToken
	srv.gql("", loginMutation, loginVars("ada@example.com", wrong))
	srv.send(http.MethodPost, "/auth/login", map[string]string{"email": "ada@example.com", "password": wrong}, nil)
	srv.do(http.MethodPost, "/auth/login", "", `{"email":"ada@example.com","password":"`+wrong+`",`)
	srv.do(http.MethodPost, "/auth/register", "", map[string]string{"email": "ada@example.com", "password": password, "displayName": "Ada"})
	srv.gql(token, `{ me { id } }`, nil)
	srv.gql(token+"x", `{ me { id } }`, nil)
	srv.do(http.MethodGet, "/users/me/rooms", token+"x", nil)
	srv.do(http.MethodGet, "/query?query={me{id}}&variables="+wrong, token, nil)
	srv.do(http.MethodPost, "/query", "", `{"query":"mutation { login(input: {email: \"a@example.com\", password: \"`+wrong+`\"}) { accessToken } }`+strings.Repeat(" ", 2048)+`"}`)
	srv.do(http.MethodPost, "/query", "", `{"query":"mutation { login(input: {email: \"a@example.com\", password: \"`+wrong+`\"}) { nope } }"}`)
	var hash string
	if err := srv.app.DB().NewRaw("SELECT password_hash FROM users").Scan(t.Context(), &hash); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"request"`) {
		t.Fatalf("nothing was logged; the test proves nothing:\n%s", out)
	}
	for name, secret := range map[string]string{"password": password, "wrong password": wrong, "token": token, "token signature": token[strings.LastIndexByte(token, '.')+1:], "hash": hash, "hash prefix": "$2a$"} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs contain the %s:\n%s", name, out)
		}
	}
}

// httpServerFor serves the real wiring through newHTTPServer (timeouts,
// header cap) on a loopback port.
func httpServerFor(t *testing.T, env map[string]string) string {
	t.Helper()
	vars := map[string]string{"JWT_SECRET": testSecret}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := app.LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, dbtest.Open(t, "sqlite"))
	srv := app.NewHTTPServer(cfg, ts.app.Handler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// A client that dribbles its headers is cut off after the header timeout
// instead of holding a connection (and a goroutine) for ever.
func TestHTTP_SlowHeadersAreCutOff(t *testing.T) {
	addr := httpServerFor(t, map[string]string{"HTTP_READ_HEADER_TIMEOUT": "300ms"})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf, err := io.ReadAll(conn)
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("connection still open after %v", time.Since(start))
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("cut off after %v, want about 300ms", waited)
	}
	if len(buf) > 0 && !strings.HasPrefix(string(buf), "HTTP/1.1 408") {
		t.Errorf("answered %q to an unfinished request", buf)
	}
}

// Headers over the cap get 431 without reaching a handler.
func TestHTTP_OversizedHeadersRefused(t *testing.T) {
	addr := httpServerFor(t, map[string]string{"HTTP_MAX_HEADER_BYTES": "8192"})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"
	go func() { _, _ = conn.Write([]byte(req)) }()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header: HTTP %d, want 431", resp.StatusCode)
	}
}

// Browsers may call the API only from the configured origins.
func TestHTTP_CORSAllowList(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.neuronmeet.example"})
	for origin, allowed := range map[string]bool{"https://app.neuronmeet.example": true, "https://evil.example": false} {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/query", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := srv.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if allowed != (got == origin) || (!allowed && got != "") {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q", origin, got)
		}
	}
}
