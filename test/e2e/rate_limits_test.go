package e2e

// Rate limits on sign-ins, sign-ups and joins: per account and per
// address, counted alike over GraphQL and REST.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/neuronmeet/api/test/harness"
)

// limitsWith turns rate limits on with every limit off but the ones given
// (variable, value, variable, value...).
func limitsWith(kv ...string) map[string]string {
	out := map[string]string{"RATE_LIMITS": "on"}
	for _, op := range []string{"LOGIN", "REGISTER", "JOIN"} {
		for _, scope := range []string{"IP", "ACCOUNT"} {
			out["RATE_LIMIT_"+op+"_"+scope] = "off"
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

const loginMutation = `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`

func loginVars(email, password string) map[string]any {
	return map[string]any{"in": map[string]any{"email": email, "password": password}}
}

// tooMany checks a GraphQL error is TOO_MANY_REQUESTS with a retryAfter in
// whole seconds, and returns it.
func tooMany(t *testing.T, e harness.GQLError) int {
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
	srv := harness.Start(t, harness.WithEnv(limitsWith("RATE_LIMIT_LOGIN_ACCOUNT", "3/1h")))
	srv.Register("ada@example.com", "Ada")
	srv.Register("bob@example.com", "Bob")
	for i := 0; i < 2; i++ {
		if res := srv.GQL(loginMutation, loginVars("ada@example.com", "wrong-password")); res.Code() != "UNAUTHENTICATED" {
			t.Fatalf("wrong password %d: %+v", i, res.Errors)
		}
	}
	// Spelled differently, the same account.
	if res := srv.REST(http.MethodPost, "/api/auth/login", map[string]string{"email": " ADA@example.com", "password": "wrong-password"}); res.Status != http.StatusUnauthorized {
		t.Fatalf("third attempt over REST: HTTP %d", res.Status)
	}
	res := srv.GQL(loginMutation, loginVars("ada@example.com", harness.Password))
	if len(res.Errors) != 1 {
		t.Fatalf("fourth attempt: %s %+v, want refused", res.Data, res.Errors)
	}
	secs := tooMany(t, res.Errors[0])
	if secs != 1200 { // 3 per hour: one back every 20 minutes
		t.Errorf("retryAfter %d s, want 1200", secs)
	}
	rest := srv.REST(http.MethodPost, "/auth/login", map[string]string{"email": "ada@example.com", "password": harness.Password})
	var legacy struct {
		Message    string `json:"message"`
		Error      string `json:"error"`
		StatusCode int    `json:"statusCode"`
	}
	_ = json.Unmarshal(rest.Body, &legacy)
	if rest.Status != http.StatusTooManyRequests || legacy.StatusCode != 429 || legacy.Error != "Too Many Requests" || legacy.Message == "" {
		t.Errorf("REST over the limit: HTTP %d %s; want 429 in the legacy shape", rest.Status, rest.Body)
	}
	if ra, err := strconv.Atoi(rest.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 1200 {
		t.Errorf("Retry-After %q, want 1..1200 seconds", rest.Header.Get("Retry-After"))
	}
	if res := srv.GQL(loginMutation, loginVars("bob@example.com", harness.Password)); len(res.Errors) != 0 {
		t.Errorf("another account refused: %+v", res.Errors)
	}
}

// Aliases do not multiply the allowance: each aliased login is one
// attempt, and those past the limit are refused within the same request.
func TestRateLimit_AliasesCountOneByOne(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(limitsWith("RATE_LIMIT_LOGIN_IP", "3/1h", "GRAPHQL_MAX_SIGN_INS", "5")))
	srv.Register("ada@example.com", "Ada")
	in := `(input: {email: "ada@example.com", password: "wrong-password"}) { accessToken }`
	res := srv.GQL("mutation { a: login"+in+" b: login"+in+" c: login"+in+" d: login"+in+" e: login"+in+" }", nil)
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
	if res := srv.GQL(loginMutation, loginVars("ada@example.com", harness.Password)); res.Code() != "TOO_MANY_REQUESTS" {
		t.Errorf("next request: %+v, want TOO_MANY_REQUESTS", res.Errors)
	}
}

// Registrations from one address stop at the limit, and a refused one
// creates nothing.
func TestRateLimit_RegisterPerAddress(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(limitsWith("RATE_LIMIT_REGISTER_IP", "2/1h")))
	srv.Register("one@example.com", "One")
	srv.Register("two@example.com", "Two")
	res := srv.GQL(`mutation { register(input: {email: "three@example.com", password: "correct-horse", displayName: "Three"}) { accessToken } }`, nil)
	if len(res.Errors) != 1 {
		t.Fatalf("third registration: %s %+v", res.Data, res.Errors)
	}
	tooMany(t, res.Errors[0])
	if rest := srv.REST(http.MethodPost, "/auth/register", map[string]string{"email": "four@example.com", "password": harness.Password, "displayName": "Four"}); rest.Status != http.StatusTooManyRequests {
		t.Errorf("fourth registration over REST: HTTP %d, want 429", rest.Status)
	}
	if n := harness.CountRows(t, srv.DB(), "users"); n != 2 {
		t.Errorf("%d users after refused registrations, want 2", n)
	}
}

// A signed-in user's joins are limited per account; guests per address.
// Behind a trusted proxy the address is the forwarded client's, so one
// client's flood does not lock out the others.
func TestRateLimit_JoinRoom(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(limitsWith(
		"RATE_LIMIT_JOIN_ACCOUNT", "2/1m", "RATE_LIMIT_JOIN_IP", "3/1m", "TRUSTED_PROXIES", "127.0.0.1")))
	host := srv.Register("host@example.com", "Host")
	var codes []string
	for i := 0; i < 4; i++ {
		codes = append(codes, srv.WithToken(host.Token).CreateRoom(map[string]any{}).Code)
	}
	joinAs := func(token, code, guest, forwardedFor string) harness.GQLResponse {
		vars := map[string]any{"code": code}
		if guest != "" {
			vars["guest"] = guest
		}
		return srv.WithToken(token).GQL(`mutation($code: String!, $guest: String) { joinRoom(code: $code, guestName: $guest) { participant { id } } }`,
			vars, harness.Header("X-Forwarded-For", forwardedFor))
	}
	// The host, from three different addresses: the account limit holds.
	for i, code := range codes[:2] {
		if res := joinAs(host.Token, code, "", fmt.Sprintf("198.51.100.%d", i+1)); len(res.Errors) != 0 {
			t.Fatalf("join %d: %+v", i, res.Errors)
		}
	}
	if res := joinAs(host.Token, codes[2], "", "198.51.100.3"); res.Code() != "TOO_MANY_REQUESTS" {
		t.Errorf("third join by one account: %+v", res.Errors)
	}
	// Guests from one forwarded address: three, then refused.
	for i := 0; i < 3; i++ {
		if res := joinAs("", codes[3], fmt.Sprintf("Guest %d", i), "203.0.113.7"); len(res.Errors) != 0 {
			t.Fatalf("guest %d: %+v", i, res.Errors)
		}
	}
	if res := joinAs("", codes[3], "Guest 4", "203.0.113.7"); res.Code() != "TOO_MANY_REQUESTS" {
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
	srv := harness.Start(t, harness.WithEnv(limitsWith("RATE_LIMIT_LOGIN_IP", "2/1h")))
	for i := 0; i < 2; i++ {
		srv.REST(http.MethodPost, "/auth/login", map[string]string{"email": "x@example.com", "password": "wrong-password"},
			harness.Header("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i)))
	}
	res := srv.REST(http.MethodPost, "/auth/login", map[string]string{"email": "y@example.com", "password": "wrong-password"},
		harness.Header("X-Forwarded-For", "192.0.2.99"))
	if res.Status != http.StatusTooManyRequests {
		t.Errorf("third login with a made-up Forwarded-For: HTTP %d, want 429", res.Status)
	}
}
