package e2e

// /metrics: what it reports, how it measures streams, and that it can be
// turned off.

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neuronmeet/api/test/harness"
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
	srv := harness.Start(t, harness.WithEnv(limitsWith("RATE_LIMIT_LOGIN_ACCOUNT", "1/1h")))
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	room := host.CreateRoom(map[string]any{})
	host.Join(room.Code, nil)
	host.GQL(`query MyRooms { me { rooms { id participants { user { displayName } } } } }`, nil)
	// room(id) is not prefetched: its participants' users go through the
	// users loader.
	host.GQL(`query($id: ID!) { room(id: $id) { participants { user { displayName } } } }`, map[string]any{"id": room.ID})
	srv.GQL(loginMutation, loginVars("host@example.com", "wrong-password"))
	srv.GQL(loginMutation, loginVars("host@example.com", "wrong-password")) // refused
	host.REST(http.MethodGet, "/users/me/rooms", nil)
	srv.REST(http.MethodGet, "/users/me/rooms", nil)

	res := srv.REST(http.MethodGet, "/metrics", nil)
	body := string(res.Body)
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: HTTP %d %s", res.Status, res.Header.Get("Content-Type"))
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
		host.GQL("query Op"+strconv.Itoa(i)+" { me { id } }", nil)
	}
	raw := srv.REST(http.MethodGet, "/metrics", nil).Body
	series := regexp.MustCompile(`(?m)^neuronmeet_http_requests_total\{`).FindAllString(string(raw), -1)
	if len(series) > 210 {
		t.Errorf("%d request series after 250 operation names; the label is unbounded", len(series))
	}
	if metricValue(t, string(raw), `neuronmeet_http_requests_total{operation="query me",status="200"}`) < 1 {
		t.Error("operations past the bound are not counted under their root fields")
	}
}

// Only operations a signed-in user ran without an error may give their name
// a label: a stranger's junk names, however many, and names of operations
// that fail, take no slot, so a real dashboard's query still gets its own.
func TestMetrics_StrangersCannotChooseOperationLabels(t *testing.T) {
	srv := harness.Start(t)
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	for i := 0; i < 250; i++ {
		n := strconv.Itoa(i)
		// Valid, and answered without an error, but anonymous.
		harness.MustSucceed(t, "anonymous query", srv.GQL("query Junk"+n+` { roomByCode(code: "none") { name } }`, nil))
		if i < 25 {
			// Signed in, but refused by validation or failing as it runs.
			if res := host.GQL("query Invalid"+n+" { me { nope } }", nil); res.Code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("invalid document: %s", res.Outcome())
			}
			if res := host.GQL("query Failing"+n+` { room(id: "none") { id } }`, nil); res.Code() != "NOT_FOUND" {
				t.Fatalf("room(id) of no room: %s", res.Outcome())
			}
		}
	}
	host.GQL(`query MyRooms { me { rooms { id name } } }`, nil)
	body := string(srv.REST(http.MethodGet, "/metrics", nil).Body)
	for _, junk := range []string{"Junk", "Invalid", "Failing"} {
		if lines := grepLines(body, `operation="query `+junk); lines != "" {
			t.Errorf("%s operation names became labels:\n%.500s", junk, lines)
		}
	}
	for prefix, want := range map[string]float64{
		`neuronmeet_http_requests_total{operation="query MyRooms",status="200"}`:    1,
		`neuronmeet_http_requests_total{operation="query roomByCode",status="200"}`: 250,
		`neuronmeet_http_requests_total{operation="query room",status="200"}`:       25,
	} {
		if got := metricValue(t, body, prefix); got != want {
			t.Errorf("%s = %v, want %v", prefix, got, want)
		}
	}
	// A name a signed-in user's operation holds counts anyone's operation
	// of that name.
	srv.GQL(`query MyRooms { roomByCode(code: "none") { name } }`, nil)
	body = string(srv.REST(http.MethodGet, "/metrics", nil).Body)
	if got := metricValue(t, body, `neuronmeet_http_requests_total{operation="query MyRooms",status="200"}`); got != 2 {
		t.Errorf("query MyRooms counted %v times, want 2", got)
	}
}

// Streams are measured as streams: a websocket or SSE subscription that
// lasts minutes must not count as one request of that length.
func TestMetrics_StreamsHaveTheirOwnInstruments(t *testing.T) {
	srv := harness.Start(t)
	host := srv.Register("host@example.com", "Host")
	room := srv.WithToken(host.Token).CreateRoom(nil)
	streams := srv.SubscribeBoth(host.Token, harness.RoomEventsQuery, map[string]any{"room": room.ID})
	srv.WaitSubscribers(2)
	metrics := func() string { return string(srv.REST(http.MethodGet, "/metrics", nil).Body) }
	body := metrics()
	for _, transport := range []string{"websocket", "sse"} {
		if n := metricValue(t, body, `neuronmeet_streams_open{transport="`+transport+`"}`); n != 1 {
			t.Errorf("%s streams open: %v, want 1", transport, n)
		}
	}
	streams.WS.Close()
	streams.SSE.Cancel()
	harness.Eventually(t, 5*time.Second, "streams closed", func() bool {
		body = metrics()
		return metricValue(t, body, `neuronmeet_streams_open{transport="websocket"}`) == 0 &&
			metricValue(t, body, `neuronmeet_streams_open{transport="sse"}`) == 0
	})
	// A stream's duration is observed before its gauge goes down, but one
	// scrape gathers the two concurrently: the scrape that saw the gauge
	// at 0 may have read the histogram before. The next sees both.
	body = metrics()
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
	srv := harness.Start(t, harness.WithEnv(map[string]string{"METRICS": "off"}))
	if res := srv.REST(http.MethodGet, "/metrics", nil); res.Status != http.StatusNotFound {
		t.Errorf("/metrics with METRICS=off: HTTP %d, want 404", res.Status)
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
