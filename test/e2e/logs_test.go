package e2e

// What the server logs: every line of a request carries its id, and no
// secret a client sends ever appears.

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/neuronmeet/api/test/harness"
)

var requestIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Every response names its request, and every log line written while
// serving it carries the same id; a proxy's id is adopted.
func TestHTTP_RequestIDsInResponsesAndLogs(t *testing.T) {
	srv := harness.Start(t, harness.CaptureLogs())
	id := srv.REST(http.MethodGet, "/healthz", nil).Header.Get("X-Request-Id")
	if !requestIDRE.MatchString(id) {
		t.Fatalf("X-Request-Id %q, want 32 hex digits", id)
	}
	if srv.REST(http.MethodGet, "/healthz", nil).Header.Get("X-Request-Id") == id {
		t.Error("two requests got the same id")
	}
	res := srv.REST(http.MethodPost, "/auth/login", map[string]string{"email": "x@example.com", "password": "wrong-password"},
		harness.Header("X-Request-Id", "proxy-id-42"))
	if res.Status != http.StatusUnauthorized || res.Header.Get("X-Request-Id") != "proxy-id-42" {
		t.Errorf("proxy's id: HTTP %d, X-Request-Id %q", res.Status, res.Header.Get("X-Request-Id"))
	}
	found := map[string]bool{}
	for _, rec := range srv.Logs.Records(t) {
		if rec["msg"] == "request" {
			found[rec["request_id"].(string)] = true
			if rec["request_id"] == "proxy-id-42" && (rec["status"] != float64(401) || rec["path"] != "/auth/login") {
				t.Errorf("access log line %v", rec)
			}
		}
	}
	if !found[id] || !found["proxy-id-42"] {
		t.Errorf("access log lacks the request ids %q and proxy-id-42: %s", id, srv.Logs)
	}
}

// Nothing a client sends as a secret reaches the logs, even at debug
// level, through any path that logs: failed logins, bad tokens, bad
// bodies, oversized bodies, refused documents, GET queries, SSE bodies that
// do not decode, broken websocket messages and failed upgrades. The server
// runs as its own process and the test reads all it wrote to stderr, so
// the libraries' logging through the standard logger is caught too: every
// line must be one of slog's JSON records.
func TestHTTP_LogsHoldNoSecrets(t *testing.T) {
	srv := harness.Start(t, harness.RealProcess(), harness.CaptureLogs(), harness.WithEnv(map[string]string{"GRAPHQL_MAX_BODY_BYTES": "2048"}))
	const password, wrong = "pw-Secret-1234", "pw-Wrong-5678"
	var reg struct{ Register struct{ AccessToken string } }
	srv.GQL(`mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": "ada@example.com", "password": password, "displayName": "Ada"}}).Decode(t, &reg)
	token := reg.Register.AccessToken
	ada, forged := srv.WithToken(token), srv.WithToken(token+"x")
	srv.GQL(loginMutation, loginVars("ada@example.com", wrong))
	srv.REST(http.MethodPost, "/auth/login", map[string]string{"email": "ada@example.com", "password": wrong})
	srv.REST(http.MethodPost, "/auth/login", nil, harness.RawBody(`{"email":"ada@example.com","password":"`+wrong+`",`))
	srv.REST(http.MethodPost, "/auth/register", map[string]string{"email": "ada@example.com", "password": password, "displayName": "Ada"})
	ada.GQL(`{ me { id } }`, nil)
	forged.GQL(`{ me { id } }`, nil)
	forged.REST(http.MethodGet, "/users/me/rooms", nil)
	ada.REST(http.MethodGet, "/query?query={me{id}}&variables="+wrong, nil)
	loginDoc := `mutation { login(input: {email: \"a@example.com\", password: \"` + wrong + `\"}) { accessToken } }`
	srv.REST(http.MethodPost, "/query", nil, harness.RawBody(`{"query":"`+loginDoc+strings.Repeat(" ", 2048)+`"}`))
	srv.REST(http.MethodPost, "/query", nil, harness.RawBody(`{"query":"mutation { login(input: {email: \"a@example.com\", password: \"`+wrong+`\"}) { nope } }"}`))

	// SSE: a body that does not decode, and a document that does not validate.
	sse := harness.Header("Accept", "text/event-stream")
	if res := srv.REST(http.MethodPost, "/query", nil, sse, harness.RawBody(`{"query":"`+loginDoc+`"`)); res.Status != http.StatusBadRequest || strings.Contains(string(res.Body), wrong) {
		t.Errorf("SSE body that does not decode: HTTP %d %s, want 400 without the body echoed", res.Status, res.Body)
	}
	srv.REST(http.MethodPost, "/query", nil, sse, harness.RawBody(`{"query":"mutation { login(input: {email: \"a@example.com\", password: \"`+wrong+`\"}) { nope } }"}`))

	// Websockets: a document that does not validate, then a message that is
	// not JSON; and upgrades that fail.
	ws := harness.DialWS(t, srv.URL, token)
	if code, _ := ws.Subscribe(`mutation { login(input: {email: "a@example.com", password: "`+wrong+`"}) { nope } }`, nil).Refused(5 * time.Second); code != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("websocket: invalid document refused with %q", code)
	}
	raw := harness.DialRawWS(t, srv.URL, "graphql-transport-ws")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := raw.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{"Authorization":"Bearer `+token+`"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := raw.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","id":"1","payload":{"query":"`+loginDoc+`"`)); err != nil {
		t.Fatal(err)
	}
	if _, closed := harness.ReadUntilClosed(raw, 5*time.Second); !closed {
		t.Error("a websocket message that is not JSON left the connection open")
	}
	for _, h := range []harness.RequestOption{harness.Header("Origin", "https://evil.example"), harness.Header("Sec-WebSocket-Key", "")} {
		res := srv.REST(http.MethodGet, "/query", nil, harness.Header("Connection", "Upgrade"), harness.Header("Upgrade", "websocket"),
			harness.Header("Sec-WebSocket-Version", "13"), harness.Header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
			harness.Header("Authorization", "Bearer "+token), h)
		if res.Status == http.StatusSwitchingProtocols || res.Status >= 500 {
			t.Errorf("failed upgrade: HTTP %d", res.Status)
		}
	}

	var hash string
	if err := srv.DB().NewRaw("SELECT password_hash FROM users").Scan(t.Context(), &hash); err != nil {
		t.Fatal(err)
	}
	// Every line the process wrote is slog's JSON (Records fails on any
	// other); the standard logger's plain text would carry no request id.
	srv.Logs.Records(t)
	out := srv.Logs.String()
	if !strings.Contains(out, `"msg":"request"`) {
		t.Fatalf("nothing was logged; the test proves nothing:\n%s", out)
	}
	for name, secret := range map[string]string{"password": password, "wrong password": wrong, "token": token, "token signature": token[strings.LastIndexByte(token, '.')+1:], "hash": hash, "hash prefix": "$2a$"} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs contain the %s:\n%s", name, out)
		}
	}
}
