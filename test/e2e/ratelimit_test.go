package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/neuronmeet/api/db/dbtest"
)

// noLimits turns every rate limit off but the ones a test sets.
var noLimits = map[string]string{
	"RATE_LIMITS":                 "on",
	"RATE_LIMIT_LOGIN_IP":         "off",
	"RATE_LIMIT_LOGIN_ACCOUNT":    "off",
	"RATE_LIMIT_REGISTER_IP":      "off",
	"RATE_LIMIT_REGISTER_ACCOUNT": "off",
	"RATE_LIMIT_JOIN_IP":          "off",
	"RATE_LIMIT_JOIN_ACCOUNT":     "off",
}

func limitsWith(kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range noLimits {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// send is do with extra request headers.
func (s *testServer) send(method, path string, body any, header map[string]string) (int, http.Header, []byte) {
	s.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		s.t.Fatal(err)
	}
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

const loginMutation = `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`

func loginVars(email, password string) map[string]any {
	return map[string]any{"in": map[string]any{"email": email, "password": password}}
}

// tooMany checks a GraphQL error is TOO_MANY_REQUESTS with a retryAfter in
// whole seconds, and returns it.
func tooMany(t *testing.T, e gqlError) int {
	t.Helper()
	if e.Extensions["code"] != "TOO_MANY_REQUESTS" {
		t.Fatalf("error %+v, want TOO_MANY_REQUESTS", e)
	}
	secs, ok := e.Extensions["retryAfter"].(float64)
	if !ok || secs < 1 || secs != float64(int(secs)) {
		t.Fatalf("retryAfter %v, want whole seconds ≥ 1", e.Extensions["retryAfter"])
	}
	return int(secs)
}

// Attempts on one account count together whether they come through
// GraphQL or REST, and once spent even the right password is refused;
// other accounts are untouched.
func TestRateLimit_LoginPerAccountAcrossGraphQLAndREST(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), limitsWith("RATE_LIMIT_LOGIN_ACCOUNT", "3/1h"))
	srv.register("ada@example.com", "Ada")
	srv.register("bob@example.com", "Bob")
	for i := 0; i < 2; i++ {
		if res := srv.gql("", loginMutation, loginVars("ada@example.com", "wrong-password")); res.code() != "UNAUTHENTICATED" {
			t.Fatalf("wrong password %d: %+v", i, res.Errors)
		}
	}
	// Spelled differently, the same account.
	status, _, _ := srv.send(http.MethodPost, "/api/auth/login", map[string]string{"email": " ADA@example.com", "password": "wrong-password"}, nil)
	if status != http.StatusUnauthorized {
		t.Fatalf("third attempt over REST: HTTP %d", status)
	}
	res := srv.gql("", loginMutation, loginVars("ada@example.com", "correct-horse"))
	if len(res.Errors) != 1 {
		t.Fatalf("fourth attempt: %s %+v, want refused", res.Data, res.Errors)
	}
	secs := tooMany(t, res.Errors[0])
	if secs != 1200 { // 3 per hour: one back every 20 minutes
		t.Errorf("retryAfter %d s, want 1200", secs)
	}
	status, header, body := srv.send(http.MethodPost, "/auth/login", map[string]string{"email": "ada@example.com", "password": "correct-horse"}, nil)
	var legacy struct {
		Message    string `json:"message"`
		Error      string `json:"error"`
		StatusCode int    `json:"statusCode"`
	}
	_ = json.Unmarshal(body, &legacy)
	if status != http.StatusTooManyRequests || legacy.StatusCode != 429 || legacy.Error != "Too Many Requests" || legacy.Message == "" {
		t.Errorf("REST over the limit: HTTP %d %s; want 429 in the legacy shape", status, body)
	}
	if ra, err := strconv.Atoi(header.Get("Retry-After")); err != nil || ra < 1 || ra > 1200 {
		t.Errorf("Retry-After %q, want 1..1200 seconds", header.Get("Retry-After"))
	}
	if res := srv.gql("", loginMutation, loginVars("bob@example.com", "correct-horse")); len(res.Errors) != 0 {
		t.Errorf("another account refused: %+v", res.Errors)
	}
}

// Aliases do not multiply the allowance: each aliased login is one
// attempt, and those past the limit are refused within the same request.
func TestRateLimit_AliasesCountOneByOne(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), limitsWith("RATE_LIMIT_LOGIN_IP", "3/1h", "GRAPHQL_MAX_SIGN_INS", "5"))
	srv.register("ada@example.com", "Ada")
	in := `(input: {email: "ada@example.com", password: "wrong-password"}) { accessToken }`
	res := srv.gql("", "mutation { a: login"+in+" b: login"+in+" c: login"+in+" d: login"+in+" e: login"+in+" }", nil)
	codes := map[string]string{}
	for _, e := range res.Errors {
		if len(e.Path) == 1 {
			codes[fmt.Sprint(e.Path[0])], _ = e.Extensions["code"].(string)
		}
	}
	want := map[string]string{"a": "UNAUTHENTICATED", "b": "UNAUTHENTICATED", "c": "UNAUTHENTICATED", "d": "TOO_MANY_REQUESTS", "e": "TOO_MANY_REQUESTS"}
	for k, v := range want {
		if codes[k] != v {
			t.Errorf("alias %s: %q, want %q (all: %v)", k, codes[k], v, codes)
		}
	}
	// The limit outlives the request: the next one is refused too.
	if res := srv.gql("", loginMutation, loginVars("ada@example.com", "correct-horse")); res.code() != "TOO_MANY_REQUESTS" {
		t.Errorf("next request: %+v, want TOO_MANY_REQUESTS", res.Errors)
	}
}

// Registrations from one address stop at the limit, and a refused one
// creates nothing.
func TestRateLimit_RegisterPerAddress(t *testing.T) {
	bdb := dbtest.Open(t, "sqlite")
	srv := newTestServer(t, bdb, limitsWith("RATE_LIMIT_REGISTER_IP", "2/1h"))
	srv.register("one@example.com", "One")
	srv.register("two@example.com", "Two")
	res := srv.gql("", `mutation { register(input: {email: "three@example.com", password: "correct-horse", displayName: "Three"}) { accessToken } }`, nil)
	if len(res.Errors) != 1 {
		t.Fatalf("third registration: %s %+v", res.Data, res.Errors)
	}
	tooMany(t, res.Errors[0])
	status, _, _ := srv.send(http.MethodPost, "/auth/register", map[string]string{"email": "four@example.com", "password": "correct-horse", "displayName": "Four"}, nil)
	if status != http.StatusTooManyRequests {
		t.Errorf("fourth registration over REST: HTTP %d, want 429", status)
	}
	var n int
	if err := bdb.NewRaw("SELECT count(*) FROM users").Scan(t.Context(), &n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d users after refused registrations, want 2", n)
	}
}

// A signed-in user's joins are limited per account; guests per address.
// Behind a trusted proxy the address is the forwarded client's, so one
// client's flood does not lock out the others.
func TestRateLimit_JoinRoom(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), limitsWith(
		"RATE_LIMIT_JOIN_ACCOUNT", "2/1m", "RATE_LIMIT_JOIN_IP", "3/1m", "TRUSTED_PROXIES", "127.0.0.1"))
	host := srv.register("host@example.com", "Host")
	var codes []string
	for i := 0; i < 4; i++ {
		codes = append(codes, srv.createRoom(host.Token, map[string]any{}).Code)
	}
	joinAs := func(token, code, guest, forwardedFor string) gqlResponse {
		vars := map[string]any{"code": code}
		if guest != "" {
			vars["guest"] = guest
		}
		h := map[string]string{"X-Forwarded-For": forwardedFor}
		if token != "" {
			h["Authorization"] = "Bearer " + token
		}
		_, _, raw := srv.send(http.MethodPost, "/query", map[string]any{
			"query":     `mutation($code: String!, $guest: String) { joinRoom(code: $code, guestName: $guest) { participant { id } } }`,
			"variables": vars,
		}, h)
		var res gqlResponse
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatalf("%s", raw)
		}
		return res
	}
	// The host, from three different addresses: the account limit holds.
	for i, code := range codes[:2] {
		if res := joinAs(host.Token, code, "", fmt.Sprintf("198.51.100.%d", i+1)); len(res.Errors) != 0 {
			t.Fatalf("join %d: %+v", i, res.Errors)
		}
	}
	if res := joinAs(host.Token, codes[2], "", "198.51.100.3"); res.code() != "TOO_MANY_REQUESTS" {
		t.Errorf("third join by one account: %+v", res.Errors)
	}
	// Guests from one forwarded address: three, then refused.
	for i := 0; i < 3; i++ {
		if res := joinAs("", codes[3], fmt.Sprintf("Guest %d", i), "203.0.113.7"); len(res.Errors) != 0 {
			t.Fatalf("guest %d: %+v", i, res.Errors)
		}
	}
	if res := joinAs("", codes[3], "Guest 4", "203.0.113.7"); res.code() != "TOO_MANY_REQUESTS" {
		t.Errorf("fourth guest from one address: %+v", res.Errors)
	}
	// Another client behind the same proxy still gets in.
	if res := joinAs("", codes[3], "Someone Else", "203.0.113.8"); len(res.Errors) != 0 {
		t.Errorf("a guest from another address: %+v", res.Errors)
	}
}

// Forwarded-For is only believed from a trusted proxy: without one, a
// client cannot escape its limit by making up addresses.
func TestRateLimit_SpoofedForwardedForIgnored(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), limitsWith("RATE_LIMIT_LOGIN_IP", "2/1h"))
	for i := 0; i < 2; i++ {
		srv.send(http.MethodPost, "/auth/login", map[string]string{"email": "x@example.com", "password": "wrong-password"},
			map[string]string{"X-Forwarded-For": fmt.Sprintf("192.0.2.%d", i)})
	}
	status, _, _ := srv.send(http.MethodPost, "/auth/login", map[string]string{"email": "y@example.com", "password": "wrong-password"},
		map[string]string{"X-Forwarded-For": "192.0.2.99"})
	if status != http.StatusTooManyRequests {
		t.Errorf("third login with a made-up Forwarded-For: HTTP %d, want 429", status)
	}
}

// A failed REST login is a 401 with a Bearer challenge, its legacy body
// unchanged.
func TestREST_Every401Challenges(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"))
	status, header, body := srv.send(http.MethodPost, "/auth/login", map[string]string{"email": "nobody@example.com", "password": "wrong-password"}, nil)
	if status != http.StatusUnauthorized || header.Get("WWW-Authenticate") != "Bearer" ||
		string(body) != `{"message":"Invalid credentials","error":"Unauthorized","statusCode":401}` {
		t.Errorf("failed login: HTTP %d, WWW-Authenticate %q, body %s", status, header.Get("WWW-Authenticate"), body)
	}
	status, header, body = srv.do(http.MethodGet, "/users/me/rooms", "", nil)
	if status != http.StatusUnauthorized || header.Get("WWW-Authenticate") != "Bearer" || string(body) != e2eUnauthorizedJSON {
		t.Errorf("no token: HTTP %d, WWW-Authenticate %q, body %s", status, header.Get("WWW-Authenticate"), body)
	}
}
