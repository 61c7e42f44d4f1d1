package e2e

// Rate limits on sign-ins, sign-ups, room-code lookups, joins and new
// rooms: per account and per address, counted alike over GraphQL and REST.

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
	out["RATE_LIMIT_LOGIN_ACCOUNT_IP"] = "off"
	out["RATE_LIMIT_ROOM_CODE_IP"] = "off"
	out["RATE_LIMIT_CREATE_ROOM_ACCOUNT"] = "off"
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

// legacyTooMany checks a REST answer is 429 in the legacy shape with a
// Retry-After of 1..maxSecs seconds.
func legacyTooMany(t *testing.T, rest harness.Response, maxSecs int) {
	t.Helper()
	var legacy struct {
		Message    string `json:"message"`
		Error      string `json:"error"`
		StatusCode int    `json:"statusCode"`
	}
	_ = json.Unmarshal(rest.Body, &legacy)
	if rest.Status != http.StatusTooManyRequests || legacy.StatusCode != 429 || legacy.Error != "Too Many Requests" || legacy.Message == "" {
		t.Errorf("REST over the limit: HTTP %d %s; want 429 in the legacy shape", rest.Status, rest.Body)
	}
	if ra, err := strconv.Atoi(rest.Header.Get("Retry-After")); err != nil || ra < 1 || ra > maxSecs {
		t.Errorf("Retry-After %q, want 1..%d seconds", rest.Header.Get("Retry-After"), maxSecs)
	}
}

// from makes a request come from addr, through the trusted proxy the
// tests' servers are told the loopback address is.
func from(addr string) harness.RequestOption { return harness.Header("X-Forwarded-For", addr) }

// Wrong passwords on one account count together whether they come
// through GraphQL or REST, and once spent even the right password is
// refused from that address; other accounts are untouched.
func TestRateLimit_LoginPerAccountAcrossGraphQLAndREST(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(limitsWith("RATE_LIMIT_LOGIN_ACCOUNT_IP", "3/1h")))
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
	legacyTooMany(t, srv.REST(http.MethodPost, "/auth/login", map[string]string{"email": "ada@example.com", "password": harness.Password}), 1200)
	if res := srv.GQL(loginMutation, loginVars("bob@example.com", harness.Password)); len(res.Errors) != 0 {
		t.Errorf("another account refused: %+v", res.Errors)
	}
}

// A stranger hammering an account with wrong passwords from one address
// is stopped there, but cannot lock the owner out: with the default
// limits, the owner still signs in from their own address, over GraphQL
// and REST, while the stranger stays refused even with the right password.
func TestRateLimit_WrongPasswordsDoNotLockTheOwnerOut(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(map[string]string{"RATE_LIMITS": "on", "TRUSTED_PROXIES": "127.0.0.1"}))
	srv.Register("ada@example.com", "Ada")
	const attacker, owner = "198.51.100.66", "203.0.113.10"
	for i := 0; i < 10; i++ {
		if res := srv.GQL(loginMutation, loginVars("ada@example.com", fmt.Sprintf("guess-%d-wrong", i)), from(attacker)); res.Code() != "UNAUTHENTICATED" {
			t.Fatalf("wrong password %d: %+v", i+1, res.Errors)
		}
	}
	for i := 0; i < 3; i++ {
		if res := srv.GQL(loginMutation, loginVars("ada@example.com", "guess-more-wrong"), from(attacker)); res.Code() != "TOO_MANY_REQUESTS" {
			t.Fatalf("wrong password %d from the attacker's address: %+v, want TOO_MANY_REQUESTS", 11+i, res.Errors)
		}
	}
	if res := srv.GQL(loginMutation, loginVars("ada@example.com", harness.Password), from(owner)); len(res.Errors) != 0 {
		t.Errorf("the owner, from their own address, after the stranger's guesses: %+v", res.Errors)
	}
	if rest := srv.REST(http.MethodPost, "/api/auth/login", map[string]string{"email": "ada@example.com", "password": harness.Password}, from(owner)); rest.Status != http.StatusCreated {
		t.Errorf("the owner over REST: HTTP %d %s", rest.Status, rest.Body)
	}
	legacyTooMany(t, srv.REST(http.MethodPost, "/auth/login", map[string]string{"email": "ada@example.com", "password": harness.Password}, from(attacker)), 15*60)
}

// Guessing one account from many addresses stops at the account's
// ceiling: a fresh address is refused once it is spent, while the owner's
// address, which signed in before the attack, still gets in.
func TestRateLimit_LoginCeilingBoundsManyAddresses(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(limitsWith(
		"RATE_LIMIT_LOGIN_ACCOUNT_IP", "2/1h", "RATE_LIMIT_LOGIN_ACCOUNT", "6/1h", "TRUSTED_PROXIES", "127.0.0.1")))
	srv.Register("ada@example.com", "Ada")
	const owner = "203.0.113.10"
	if res := srv.GQL(loginMutation, loginVars("ada@example.com", harness.Password), from(owner)); len(res.Errors) != 0 {
		t.Fatalf("the owner's sign-in before the attack: %+v", res.Errors)
	}
	wrong := 0
	for a := 1; a <= 5; a++ {
		for i := 0; i < 2; i++ {
			res := srv.GQL(loginMutation, loginVars("ada@example.com", "wrong-password"), from(fmt.Sprintf("198.51.100.%d", a)))
			switch res.Code() {
			case "UNAUTHENTICATED":
				wrong++
			case "TOO_MANY_REQUESTS":
			default:
				t.Fatalf("guess from address %d: %+v", a, res.Errors)
			}
		}
	}
	if wrong != 6 {
		t.Errorf("%d wrong passwords checked across 5 addresses, want the ceiling's 6", wrong)
	}
	res := srv.GQL(loginMutation, loginVars("ada@example.com", harness.Password), from("192.0.2.200"))
	if res.Code() != "TOO_MANY_REQUESTS" {
		t.Errorf("a fresh address with the right password under the ceiling: %+v, want TOO_MANY_REQUESTS", res.Errors)
	}
	if res := srv.GQL(loginMutation, loginVars("ada@example.com", harness.Password), from(owner)); len(res.Errors) != 0 {
		t.Errorf("the owner's known address under the ceiling: %+v", res.Errors)
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

const roomByCodeQuery = `query($code: String!) { roomByCode(code: $code) { id } }`

// Room codes are the only secret of a room, so looking them up is limited
// per address: aliases count one by one, unknown codes count, and
// GraphQL, both REST code routes and joinRoom spend one allowance, while
// another address is untouched.
func TestRateLimit_RoomCodeLookupsPerAddress(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(limitsWith("RATE_LIMIT_ROOM_CODE_IP", "6/1h", "TRUSTED_PROXIES", "127.0.0.1")))
	host := srv.Register("host@example.com", "Host")
	room := srv.WithToken(host.Token).CreateRoom(map[string]any{})
	const guesser = "198.51.100.7"

	res := srv.GQL(`query($code: String!) { a: roomByCode(code: "aaa-aaa-aaa") { id } b: roomByCode(code: "aaa-aaa-aab") { id }
		c: roomByCode(code: "not a code") { id } d: roomByCode(code: $code) { id } }`, map[string]any{"code": room.Code}, from(guesser))
	var found struct{ A, B, C, D *struct{ ID string } }
	res.Decode(t, &found)
	if found.A != nil || found.B != nil || found.C != nil || found.D == nil || found.D.ID != room.ID {
		t.Fatalf("four aliased lookups within the limit: %s", res.Data)
	}
	if rest := srv.REST(http.MethodGet, "/api/rooms/code/"+room.Code, nil, from(guesser)); rest.Status != http.StatusOK {
		t.Fatalf("fifth lookup, over REST: HTTP %d", rest.Status)
	}
	join := `mutation($code: String!) { joinRoom(code: $code, guestName: "Guesser") { participant { id } } }`
	if res := srv.GQL(join, map[string]any{"code": "zzz-zzz-zzz"}, from(guesser)); res.Code() != "NOT_FOUND" {
		t.Fatalf("sixth lookup, a join with a guessed code: %+v", res.Errors)
	}
	// Spent: every way of trying a code is refused from this address.
	if res := srv.GQL(roomByCodeQuery, map[string]any{"code": room.Code}, from(guesser)); len(res.Errors) != 1 {
		t.Errorf("roomByCode over the limit: %s %+v, want refused", res.Data, res.Errors)
	} else {
		tooMany(t, res.Errors[0])
	}
	legacyTooMany(t, srv.REST(http.MethodGet, "/rooms/code/"+room.Code, nil, from(guesser)), 600)
	legacyTooMany(t, srv.REST(http.MethodGet, "/api/rooms/code/"+room.Code+"/participants", nil, from(guesser)), 600)
	if res := srv.GQL(join, map[string]any{"code": room.Code}, from(guesser)); res.Code() != "TOO_MANY_REQUESTS" {
		t.Errorf("joinRoom over the lookup limit: %+v", res.Errors)
	}
	if n := harness.CountRows(t, srv.DB(), "participants"); n != 0 {
		t.Errorf("%d participants after refused joins, want 0", n)
	}
	// Someone else, from another address, finds and joins the room.
	if res := srv.GQL(roomByCodeQuery, map[string]any{"code": room.Code}, from("203.0.113.20")); len(res.Errors) != 0 {
		t.Errorf("a lookup from another address: %+v", res.Errors)
	}
	if res := srv.GQL(join, map[string]any{"code": room.Code}, from("203.0.113.20")); len(res.Errors) != 0 {
		t.Errorf("a join from another address: %+v", res.Errors)
	}

	// Within one request, aliases past the limit are refused one by one.
	q := "query {"
	for i := 0; i < 8; i++ {
		q += fmt.Sprintf(" a%d: roomByCode(code: %q) { id }", i, room.Code)
	}
	res = srv.GQL(q+" }", nil, from("192.0.2.30"))
	refused := 0
	for _, e := range res.Errors {
		if e.Extensions["code"] == "TOO_MANY_REQUESTS" {
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("8 aliased lookups on a limit of 6: %d refused, want 2 (%+v)", refused, res.Errors)
	}
}

// New rooms are limited per user, over GraphQL and REST together; a
// refused one creates nothing, and other users are untouched.
func TestRateLimit_CreateRoomPerUser(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(limitsWith("RATE_LIMIT_CREATE_ROOM_ACCOUNT", "3/1h")))
	ada := srv.WithToken(srv.Register("ada@example.com", "Ada").Token)
	const create = `mutation { createRoom(input: {name: "Standup"}) { id } }`
	for i := 0; i < 2; i++ {
		if res := ada.GQL(create, nil); len(res.Errors) != 0 {
			t.Fatalf("room %d: %+v", i+1, res.Errors)
		}
	}
	if rest := ada.REST(http.MethodPost, "/api/rooms", map[string]any{"name": "Retro"}); rest.Status != http.StatusCreated {
		t.Fatalf("third room, over REST: HTTP %d %s", rest.Status, rest.Body)
	}
	res := ada.GQL(create, nil)
	if len(res.Errors) != 1 {
		t.Fatalf("fourth room: %s %+v, want refused", res.Data, res.Errors)
	}
	if secs := tooMany(t, res.Errors[0]); secs != 1200 { // 3 per hour: one back every 20 minutes
		t.Errorf("retryAfter %d s, want 1200", secs)
	}
	legacyTooMany(t, ada.REST(http.MethodPost, "/rooms", map[string]any{}), 1200)
	if n := harness.CountRows(t, srv.DB(), "rooms"); n != 3 {
		t.Errorf("%d rooms after refused creations, want 3", n)
	}
	bob := srv.WithToken(srv.Register("bob@example.com", "Bob").Token)
	if res := bob.GQL(create, nil); len(res.Errors) != 0 {
		t.Errorf("another user's room: %+v", res.Errors)
	}
}

// acrossInstances is the configuration of the tests whose two instances
// spend login failures and guest joins: 4 wrong passwords per account and
// address, 3 joins per address.
func acrossInstances(store string) map[string]string {
	env := limitsWith("RATE_LIMIT_LOGIN_ACCOUNT_IP", "4/1h", "RATE_LIMIT_JOIN_IP", "3/1h")
	env["RATE_LIMIT_STORE"] = store
	return env
}

// With RATE_LIMIT_STORE=postgres, two instances spend one allowance: wrong
// passwords and joins counted on either refuse the next on the other.
func TestRateLimit_PostgresStoreIsSharedByInstances(t *testing.T) {
	a, b, _ := harness.TwoInstances(t, harness.WithEnv(acrossInstances("postgres")))
	spendAcross(t, a, b, true)
}

// The memory store, the default, limits each instance on its own.
func TestRateLimit_MemoryStoreIsPerInstance(t *testing.T) {
	env := acrossInstances("")
	delete(env, "RATE_LIMIT_STORE")
	a, b, _ := harness.TwoInstances(t, harness.WithEnv(env))
	spendAcross(t, a, b, false)
}

// spendAcross spends 2 wrong passwords on each of a and b, then tries the
// right one on b; and joins twice as a guest on a and once on b, then once
// more on b. Sharing one allowance (acrossInstances' limits), the last of
// each is refused; each instance on its own, it passes.
func spendAcross(t *testing.T, a, b *harness.Server, shared bool) {
	t.Helper()
	host := a.Register("host@example.com", "Host")
	a.Register("ada@example.com", "Ada")
	for i, srv := range []*harness.Server{a, a, b, b} {
		if res := srv.GQL(loginMutation, loginVars("ada@example.com", fmt.Sprintf("wrong-%d", i))); res.Code() != "UNAUTHENTICATED" {
			t.Fatalf("wrong password %d: %+v", i+1, res.Errors)
		}
	}
	res := b.GQL(loginMutation, loginVars("ada@example.com", harness.Password))
	switch {
	case shared && len(res.Errors) == 1:
		tooMany(t, res.Errors[0])
	case shared:
		t.Errorf("right password after 4 wrong ones on two instances: %s %+v, want TOO_MANY_REQUESTS", res.Data, res.Errors)
	case len(res.Errors) > 0:
		t.Errorf("right password after 2 wrong ones on this instance: %+v", res.Errors)
	}

	room := a.WithToken(host.Token).CreateRoom(nil)
	for i, srv := range []*harness.Server{a, a, b} {
		_, res := srv.Join(room.Code, new(fmt.Sprintf("Guest %d", i)))
		harness.MustSucceed(t, fmt.Sprintf("join %d", i+1), res)
	}
	_, res = b.Join(room.Code, new("Guest 3"))
	switch {
	case shared && len(res.Errors) == 1:
		tooMany(t, res.Errors[0])
	case shared:
		t.Errorf("a fourth join on two instances: %+v, want TOO_MANY_REQUESTS", res.Errors)
	case len(res.Errors) > 0:
		t.Errorf("a second join on this instance: %+v", res.Errors)
	}
}
