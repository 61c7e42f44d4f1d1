package e2e

// The HTTP layer every request passes: panic recovery, the server's
// timeouts and header cap, CORS.

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neuronmeet/api/test/harness"
)

// A panic anywhere under the middleware is a masked 500 for the client
// and a logged stack-free error, with the id the client got, for us.
func TestHTTP_PanicsAreRecoveredAndMasked(t *testing.T) {
	srv := harness.Start(t, harness.CaptureLogs())
	panicky := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret detail: connection string postgres://admin:hunter2@db")
	})
	h := httptest.NewServer(srv.App().Wrap(panicky))
	defer h.Close()
	resp, err := http.Get(h.URL + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusInternalServerError || string(body) != `{"statusCode":500,"message":"Internal server error"}` || !requestIDRE.MatchString(id) {
		t.Errorf("panic answered HTTP %d %s (id %q)", resp.StatusCode, body, id)
	}
	logs := srv.Logs.String()
	if !strings.Contains(logs, `"msg":"handler panicked"`) || !strings.Contains(logs, `"request_id":"`+id+`"`) {
		t.Errorf("panic not logged with the request id %s:\n%s", id, logs)
	}
	// The server goes on serving.
	if res := srv.REST(http.MethodGet, "/healthz", nil); res.Status != http.StatusOK {
		t.Errorf("after a panic: HTTP %d", res.Status)
	}
}

// A client that dribbles its headers is cut off after the header timeout
// instead of holding a connection (and a goroutine) for ever.
func TestHTTP_SlowHeadersAreCutOff(t *testing.T) {
	srv := harness.Start(t, harness.RealServer(), harness.WithEnv(map[string]string{"HTTP_READ_HEADER_TIMEOUT": "300ms"}))
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
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
	srv := harness.Start(t, harness.RealServer(), harness.WithEnv(map[string]string{"HTTP_MAX_HEADER_BYTES": "8192"}))
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
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
	srv := harness.Start(t, harness.WithEnv(map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.neuronmeet.example"}))
	for origin, allowed := range map[string]bool{"https://app.neuronmeet.example": true, "https://evil.example": false} {
		res := srv.REST(http.MethodOptions, "/query", nil, harness.Header("Origin", origin),
			harness.Header("Access-Control-Request-Method", "POST"), harness.Header("Access-Control-Request-Headers", "authorization,content-type"))
		got := res.Header.Get("Access-Control-Allow-Origin")
		if allowed != (got == origin) || (!allowed && got != "") {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q", origin, got)
		}
	}
}

// A GraphQL answer goes out with its length, as REST's do, not chunked:
// large ones (beyond net/http's 4 KB buffer) included, and refusals.
func TestHTTP_GraphQLAnswersCarryTheirLength(t *testing.T) {
	// Uncached: the cache's answers carry their length already.
	srv := harness.Start(t, harness.WithEnv(map[string]string{"RESPONSE_CACHE": "off"}))
	c := srv.WithToken(srv.Register("length@example.com", "Length Host").Token)
	for i := range 40 {
		c.CreateRoom(map[string]any{"name": "Room with a longish name, number " + strconv.Itoa(i)})
	}
	for name, body := range map[string]string{
		"me.rooms":       `{"query":"{ me { rooms { id code name hostId createdAt updatedAt settings { allowChat maxParticipants } participants { id joinedAt } } } }"}`,
		"introspection":  `{"query":"{ __schema { types { name description fields { name description } } } }"}`,
		"unknown field":  `{"query":"{ me { nope } }"}`,
		"malformed body": `{"query":`,
	} {
		t.Run(name, func(t *testing.T) {
			res := c.For(t).REST(http.MethodPost, "/query", nil, harness.RawBody(body))
			if got, want := res.Header.Get("Content-Length"), strconv.Itoa(len(res.Body)); got != want {
				t.Fatalf("HTTP %d: Content-Length %q for a %s-byte body", res.Status, got, want)
			}
			if name == "me.rooms" && len(res.Body) < 8<<10 {
				t.Fatalf("the answer is %d bytes: too small to have been chunked", len(res.Body))
			}
		})
	}
}
