package e2e

import (
	"bytes"
	"encoding/json"
	"github.com/neuronmeet/api/app"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
)

// testSecret signs every token in the end-to-end tests.
const testSecret = "end-to-end-test-secret-of-32-bytes!"

// testServer is the real wiring (newApp) behind a real HTTP listener.
type testServer struct {
	t     testing.TB
	URL   string
	app   *app.App
	stmts *db.StatementCounter
	http  *http.Client
}

// newTestServer serves the real wiring over bdb. env overrides the test
// configuration (variable to value).
func newTestServer(t testing.TB, bdb *bun.DB, env ...map[string]string) *testServer {
	t.Helper()
	return newLoggedTestServer(t, bdb, nil, env...)
}

// newLoggedTestServer is newTestServer writing its JSON logs, from debug
// level up, to logs (nil: discarded, or the test log with -v).
func newLoggedTestServer(t testing.TB, bdb *bun.DB, logs io.Writer, env ...map[string]string) *testServer {
	t.Helper()
	// Rate limits are off here: the stories register and join from one
	// address far faster than a person would. ratelimit_test.go turns
	// them on.
	vars := map[string]string{"JWT_SECRET": testSecret, "BCRYPT_COST": "4", "RATE_LIMITS": "off", "GRAPHQL_FASTPATH_SHADOW": "on"}
	if _, bench := t.(*testing.B); bench {
		vars["GRAPHQL_FASTPATH_SHADOW"] = "off" // benchmarks measure the production configuration
	}
	for _, e := range env {
		for k, v := range e {
			vars[k] = v
		}
	}
	cfg, err := app.LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	stmts := &db.StatementCounter{}
	bdb.AddQueryHook(stmts)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if logs != nil {
		log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a, err := app.New(cfg, bdb, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	// Before the server closes (cleanups run last first): end the streams
	// it would otherwise wait for, and the LISTEN connection.
	t.Cleanup(a.CloseLive)
	return &testServer{t: t, URL: srv.URL, app: a, stmts: stmts, http: &http.Client{Timeout: 30 * time.Second}}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// gqlResponse is a GraphQL response body.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// code is the first error's extensions.code ("" without errors).
func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// decode unmarshals data into v, failing the test on GraphQL errors.
func (r gqlResponse) decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected GraphQL errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Data, err)
	}
}

// gql posts a GraphQL operation with an optional bearer token.
func (s *testServer) gql(token, query string, vars map[string]any) gqlResponse {
	s.t.Helper()
	status, _, body := s.do(http.MethodPost, "/query", token, map[string]any{"query": query, "variables": vars})
	var out gqlResponse
	if err := json.Unmarshal(body, &out); err != nil {
		s.t.Fatalf("GraphQL response (HTTP %d) is not JSON: %s", status, body)
	}
	return out
}

// do sends an HTTP request with an optional JSON body and bearer token.
func (s *testServer) do(method, path, token string, body any) (int, http.Header, []byte) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		if raw, ok := body.(string); ok {
			r = strings.NewReader(raw)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				s.t.Fatal(err)
			}
			r = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// registered is a signed-up user and their token.
type registered struct {
	ID    string
	Email string
	Token string
}

// register signs a user up through GraphQL.
func (s *testServer) register(email, displayName string) registered {
	s.t.Helper()
	res := s.gql("", `mutation($in: RegisterInput!) { register(input: $in) { accessToken user { id email } } }`,
		map[string]any{"in": map[string]any{"email": email, "password": "correct-horse", "displayName": displayName}})
	var data struct {
		Register struct {
			AccessToken string
			User        struct{ ID, Email string }
		}
	}
	res.decode(s.t, &data)
	return registered{ID: data.Register.User.ID, Email: data.Register.User.Email, Token: data.Register.AccessToken}
}

// createdRoom is what createRoom returns that tests use.
type createdRoom struct {
	ID   string `json:"id"`
	Code string `json:"code"`
}

// createRoom creates a room through GraphQL as token's user.
func (s *testServer) createRoom(token string, input map[string]any) createdRoom {
	s.t.Helper()
	res := s.gql(token, `mutation($in: CreateRoomInput) { createRoom(input: $in) { id code } }`, map[string]any{"in": input})
	var data struct{ CreateRoom createdRoom }
	res.decode(s.t, &data)
	return data.CreateRoom
}

// joined is what joinRoom returns that tests use.
type joined struct {
	ParticipantID string
	Token         string
}

// join joins the room with code, as token's user or (token "") as a guest.
func (s *testServer) join(token, code string, guestName *string) (joined, gqlResponse) {
	s.t.Helper()
	res := s.gql(token, `mutation($code: String!, $guest: String) { joinRoom(code: $code, guestName: $guest) { participantToken participant { id } } }`,
		map[string]any{"code": code, "guest": guestName})
	var data struct {
		JoinRoom *struct {
			ParticipantToken string
			Participant      struct{ ID string }
		}
	}
	if len(res.Errors) == 0 {
		res.decode(s.t, &data)
		return joined{ParticipantID: data.JoinRoom.Participant.ID, Token: data.JoinRoom.ParticipantToken}, res
	}
	return joined{}, res
}

func strPtr(s string) *string { return &s }
