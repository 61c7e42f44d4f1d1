package e2e

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neuronmeet/api/db/dbtest"
)

// metricValue returns the value of the series whose line starts with
// prefix (name and labels), or -1.
func metricValue(t *testing.T, body, prefix string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("metric line %q", line)
			}
			return v
		}
	}
	return -1
}

// /metrics reports requests by operation and status with latencies, SQL
// statements per request, dataloader batches, rate-limit refusals and the
// database pool.
func TestMetrics_ReportWhatHappened(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), limitsWith("RATE_LIMIT_LOGIN_ACCOUNT", "1/1h"))
	host := srv.register("host@example.com", "Host")
	room := srv.createRoom(host.Token, map[string]any{})
	srv.join(host.Token, room.Code, nil)
	srv.gql(host.Token, `query MyRooms { me { rooms { id participants { user { displayName } } } } }`, nil)
	// room(id) is not prefetched: its participants' users go through the
	// users loader.
	srv.gql(host.Token, `query($id: ID!) { room(id: $id) { participants { user { displayName } } } }`, map[string]any{"id": room.ID})
	srv.gql("", loginMutation, loginVars("host@example.com", "wrong-password"))
	srv.gql("", loginMutation, loginVars("host@example.com", "wrong-password")) // refused
	srv.do(http.MethodGet, "/users/me/rooms", host.Token, nil)
	srv.do(http.MethodGet, "/users/me/rooms", "", nil)

	status, header, raw := srv.do(http.MethodGet, "/metrics", "", nil)
	body := string(raw)
	if status != http.StatusOK || !strings.HasPrefix(header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: HTTP %d %s", status, header.Get("Content-Type"))
	}
	for prefix, want := range map[string]float64{
		`neuronmeet_http_requests_total{operation="query MyRooms",status="200"}`:                 1,
		`neuronmeet_http_requests_total{operation="mutation login",status="200"}`:                2,
		`neuronmeet_http_requests_total{operation="mutation register",status="200"}`:             1,
		`neuronmeet_http_requests_total{operation="GET /users/me/rooms",status="200"}`:           1,
		`neuronmeet_http_requests_total{operation="GET /users/me/rooms",status="401"}`:           1,
		`neuronmeet_http_request_duration_seconds_count{operation="query MyRooms",status="200"}`: 1,
		`neuronmeet_rate_limit_rejections_total{operation="login",scope="account"}`:              1,
	} {
		if got := metricValue(t, body, prefix); got != want {
			t.Errorf("%s = %v, want %v", prefix, got, want)
		}
	}
	if n := metricValue(t, body, "neuronmeet_sql_statements_per_request_count"); n < 8 {
		t.Errorf("statement histogram counted %v requests", n)
	}
	if sum := metricValue(t, body, "neuronmeet_sql_statements_per_request_sum"); sum < 5 {
		t.Errorf("statement histogram sum %v", sum)
	}
	if n := metricValue(t, body, `neuronmeet_dataloader_batch_size_count{loader="users"}`); n < 1 {
		t.Errorf("no users loader batch recorded:\n%s", grepLines(body, "dataloader"))
	}
	for _, name := range []string{`go_sql_max_open_connections{db_name="neuronmeet"}`, `go_sql_open_connections{db_name="neuronmeet"}`, "go_goroutines"} {
		if metricValue(t, body, name) < 0 {
			t.Errorf("%s missing", name)
		}
	}
	// Client-chosen operation names cannot grow the series without bound.
	for i := 0; i < 250; i++ {
		srv.gql(host.Token, "query Op"+strconv.Itoa(i)+" { me { id } }", nil)
	}
	_, _, raw = srv.do(http.MethodGet, "/metrics", "", nil)
	series := regexp.MustCompile(`(?m)^neuronmeet_http_requests_total\{`).FindAllString(string(raw), -1)
	if len(series) > 210 {
		t.Errorf("%d request series after 250 operation names; the label is unbounded", len(series))
	}
	if metricValue(t, string(raw), `neuronmeet_http_requests_total{operation="other",status="200"}`) < 1 {
		t.Error("operations past the bound are not counted as other")
	}
}

// Streams are measured as streams: a websocket or SSE subscription that
// lasts minutes must not count as one request of that length.
func TestMetrics_StreamsHaveTheirOwnInstruments(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"))
	host := srv.register("host@example.com", "Host")
	room := srv.createRoom(host.Token, nil)
	vars := map[string]any{"room": room.ID}
	ws, err := dialWS(t, srv.URL, host.Token)
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe(roomEventsQuery, vars)
	sse := subscribeSSE(t, srv.URL, host.Token, roomEventsQuery, vars)
	waitSubscribers(t, srv, 2)
	metrics := func() string { _, _, raw := srv.do(http.MethodGet, "/metrics", "", nil); return string(raw) }
	body := metrics()
	for _, transport := range []string{"websocket", "sse"} {
		if n := metricValue(t, body, `neuronmeet_streams_open{transport="`+transport+`"}`); n != 1 {
			t.Errorf("%s streams open: %v, want 1", transport, n)
		}
	}
	ws.close()
	sse.cancel()
	eventually(t, 5*time.Second, "streams closed", func() bool {
		body = metrics()
		return metricValue(t, body, `neuronmeet_streams_open{transport="websocket"}`) == 0 &&
			metricValue(t, body, `neuronmeet_streams_open{transport="sse"}`) == 0
	})
	for _, transport := range []string{"websocket", "sse"} {
		if n := metricValue(t, body, `neuronmeet_stream_duration_seconds_count{transport="`+transport+`"}`); n != 1 {
			t.Errorf("%s stream durations observed: %v, want 1", transport, n)
		}
		if n := metricValue(t, body, `neuronmeet_streams_total{transport="`+transport+`"}`); n != 1 {
			t.Errorf("%s streams started: %v, want 1", transport, n)
		}
	}
	if n := metricValue(t, body, `neuronmeet_http_requests_total{operation="subscription roomEvents"`); n > 0 {
		t.Errorf("%v streams counted as requests", n)
	}
}

func TestMetrics_Off(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"METRICS": "off"})
	if status, _, _ := srv.do(http.MethodGet, "/metrics", "", nil); status != http.StatusNotFound {
		t.Errorf("/metrics with METRICS=off: HTTP %d, want 404", status)
	}
}

func grepLines(body, word string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
