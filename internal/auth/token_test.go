package auth

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var (
	testSecret = []byte("token-test-secret-of-at-least-32-bytes")
	// fixedNow is the verifier's clock in these tests; whole seconds, as
	// NumericDate claims are.
	fixedNow = time.Date(2024, 3, 3, 10, 0, 0, 0, time.UTC)
)

const testTTL = 7 * 24 * time.Hour

// newFixedTokens returns Tokens whose clock is stopped at now.
func newFixedTokens(secret []byte, ttl time.Duration, now time.Time) *Tokens {
	tk := NewTokens(secret, ttl)
	tk.now = func() time.Time { return now }
	return tk
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// handMade builds a JWT from raw header and payload JSON and signs it with
// HMAC over newHash (nil: no signature), without golang-jwt: what another
// library (the legacy service's jsonwebtoken) produces.
func handMade(header, payload string, newHash func() hash.Hash, key []byte) string {
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	if newHash == nil {
		return input + "."
	}
	mac := hmac.New(newHash, key)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}

const hs256Header = `{"alg":"HS256","typ":"JWT"}`

// userPayload is the legacy payload layout: sub, email, iat, exp.
func userPayload(t *testing.T, sub string, iat, exp time.Time) string {
	t.Helper()
	return string(mustJSON(t, map[string]any{"sub": sub, "email": "host@example.com", "iat": iat.Unix(), "exp": exp.Unix()}))
}

// decodeSegment decodes one base64url JSON segment of a JWT.
func decodeSegment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d segments, want 3", token, len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("segment %d is not base64url: %v", i, err)
	}
	var out map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("segment %d is not a JSON object: %s", i, raw)
	}
	return out
}

func numericClaim(t *testing.T, claims map[string]any, name string) int64 {
	t.Helper()
	v, ok := claims[name]
	if !ok {
		t.Fatalf("claim %q missing from %v", name, claims)
	}
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("claim %q = %v (%T), want a number", name, v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("claim %q = %v, want an integer NumericDate", name, n)
	}
	return i
}

func TestIssueUser_RoundTripAndClaims(t *testing.T) {
	for _, ttl := range []time.Duration{time.Hour, testTTL} {
		tk := newFixedTokens(testSecret, ttl, fixedNow)
		token, err := tk.IssueUser("clh3x1k5g0000l408xyz11111", "host@example.com")
		if err != nil {
			t.Fatal(err)
		}
		header := decodeSegment(t, token, 0)
		if header["alg"] != "HS256" {
			t.Errorf("header alg = %v, want HS256", header["alg"])
		}
		claims := decodeSegment(t, token, 1)
		if claims["sub"] != "clh3x1k5g0000l408xyz11111" {
			t.Errorf("sub = %v", claims["sub"])
		}
		if claims["email"] != "host@example.com" {
			t.Errorf("email = %v", claims["email"])
		}
		if _, has := claims["typ"]; has {
			t.Errorf("user token carries a typ claim (%v); legacy user tokens have none", claims["typ"])
		}
		iat, exp := numericClaim(t, claims, "iat"), numericClaim(t, claims, "exp")
		if iat != fixedNow.Unix() {
			t.Errorf("iat = %d, want %d (the issuer's clock)", iat, fixedNow.Unix())
		}
		if exp-iat != int64(ttl/time.Second) {
			t.Errorf("exp - iat = %ds, want the ttl %ds", exp-iat, int64(ttl/time.Second))
		}
		sub, err := tk.ParseUser(token)
		if err != nil || sub != "clh3x1k5g0000l408xyz11111" {
			t.Errorf("ParseUser(own token) = %q, %v", sub, err)
		}
	}
}

// With the real clock too: a fresh token verifies now and its iat is now.
func TestIssueUser_RealClock(t *testing.T) {
	tk := NewTokens(testSecret, time.Minute)
	before := time.Now().Unix()
	token, err := tk.IssueUser("u1", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	iat := numericClaim(t, decodeSegment(t, token, 1), "iat")
	if iat < before || iat > time.Now().Unix() {
		t.Errorf("iat %d is not the time of issue (%d..now)", iat, before)
	}
	if sub, err := tk.ParseUser(token); err != nil || sub != "u1" {
		t.Errorf("ParseUser = %q, %v", sub, err)
	}
}

// A token with the legacy payload, signed by another implementation of
// HS256 (here crypto/hmac by hand) with the same secret, is accepted.
func TestParseUser_AcceptsHandMadeHS256(t *testing.T) {
	tk := newFixedTokens(testSecret, testTTL, fixedNow)
	for name, header := range map[string]string{
		"jsonwebtoken header": hs256Header,
		"header without typ":  `{"alg":"HS256"}`,
		"reordered header":    `{"typ":"JWT","alg":"HS256"}`,
	} {
		token := handMade(header, userPayload(t, "legacy-user", fixedNow.Add(-time.Hour), fixedNow.Add(time.Hour)), sha256.New, testSecret)
		sub, err := tk.ParseUser(token)
		if err != nil || sub != "legacy-user" {
			t.Errorf("%s: ParseUser = %q, %v; want legacy-user", name, sub, err)
		}
	}
	// Sanity check of the helper: the token golang-jwt issues is byte for
	// byte what handMade builds from the same header and payload.
	issued, err := tk.IssueUser("u", "e@example.com")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(issued, ".")
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if again := handMade(string(h), string(p), sha256.New, testSecret); again != issued {
		t.Errorf("hand-made HS256 differs from the issued token:\n%s\n%s", again, issued)
	}
}

func TestParseUser_Rejects(t *testing.T) {
	tk := newFixedTokens(testSecret, testTTL, fixedNow)
	valid := userPayload(t, "u1", fixedNow.Add(-time.Hour), fixedNow.Add(time.Hour))
	goodToken := handMade(hs256Header, valid, sha256.New, testSecret)
	if _, err := tk.ParseUser(goodToken); err != nil {
		t.Fatalf("baseline token rejected: %v", err)
	}
	goodParts := strings.Split(goodToken, ".")

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsInput := b64([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + b64([]byte(valid))
	digest := sha256.Sum256([]byte(rsInput))
	rsSig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}

	cases := map[string]string{
		"other secret":            handMade(hs256Header, valid, sha256.New, []byte("another-secret-of-at-least-32-bytes!!")),
		"secret prefix":           handMade(hs256Header, valid, sha256.New, testSecret[:len(testSecret)-1]),
		"alg none, no signature":  handMade(`{"alg":"none","typ":"JWT"}`, valid, nil, nil),
		"alg none, HS256 sig":     handMade(`{"alg":"none","typ":"JWT"}`, valid, sha256.New, testSecret),
		"alg None":                handMade(`{"alg":"None","typ":"JWT"}`, valid, nil, nil),
		"HS256 header, no sig":    handMade(hs256Header, valid, nil, nil),
		"HS384 same secret":       handMade(`{"alg":"HS384","typ":"JWT"}`, valid, sha512.New384, testSecret),
		"HS512 same secret":       handMade(`{"alg":"HS512","typ":"JWT"}`, valid, sha512.New, testSecret),
		"lower-case hs256":        handMade(`{"alg":"hs256","typ":"JWT"}`, valid, sha256.New, testSecret),
		"RS256 header, HMAC sig":  handMade(`{"alg":"RS256","typ":"JWT"}`, valid, sha256.New, testSecret),
		"RS256 genuinely signed":  rsInput + "." + b64(rsSig),
		"no alg":                  handMade(`{"typ":"JWT"}`, valid, sha256.New, testSecret),
		"expired beyond leeway":   handMade(hs256Header, userPayload(t, "u1", fixedNow.Add(-2*time.Hour), fixedNow.Add(-31*time.Second)), sha256.New, testSecret),
		"expired at the leeway":   handMade(hs256Header, userPayload(t, "u1", fixedNow.Add(-2*time.Hour), fixedNow.Add(-30*time.Second)), sha256.New, testSecret),
		"expired long ago":        handMade(hs256Header, userPayload(t, "u1", fixedNow.Add(-30*24*time.Hour), fixedNow.Add(-8*24*time.Hour)), sha256.New, testSecret),
		"no exp":                  handMade(hs256Header, `{"sub":"u1","email":"host@example.com","iat":1709459000}`, sha256.New, testSecret),
		"exp null":                handMade(hs256Header, `{"sub":"u1","iat":1709459000,"exp":null}`, sha256.New, testSecret),
		"exp not a number":        handMade(hs256Header, `{"sub":"u1","iat":1709459000,"exp":"soon"}`, sha256.New, testSecret),
		"no sub":                  handMade(hs256Header, `{"email":"host@example.com","iat":1709459000,"exp":1709470800}`, sha256.New, testSecret),
		"empty sub":               handMade(hs256Header, `{"sub":"","iat":1709459000,"exp":1709470800}`, sha256.New, testSecret),
		"numeric sub":             handMade(hs256Header, `{"sub":42,"iat":1709459000,"exp":1709470800}`, sha256.New, testSecret),
		"not valid before later":  handMade(hs256Header, `{"sub":"u1","nbf":1709470800,"exp":1709474400}`, sha256.New, testSecret),
		"tampered payload":        goodParts[0] + "." + b64([]byte(userPayload(t, "admin", fixedNow.Add(-time.Hour), fixedNow.Add(time.Hour)))) + "." + goodParts[2],
		"tampered signature":      goodParts[0] + "." + goodParts[1] + "." + b64([]byte("not the signature at all, 32 by")),
		"payload is not JSON":     handMade(hs256Header, `sub=u1`, sha256.New, testSecret),
		"payload is a JSON array": handMade(hs256Header, `["u1"]`, sha256.New, testSecret),
		"empty":                   "",
		"garbage":                 "garbage",
		"three dots":              "a.b.c",
		"two segments":            goodParts[0] + "." + goodParts[1],
		"four segments":           goodToken + "." + goodParts[2],
		"padded base64":           goodParts[0] + "==." + goodParts[1] + "." + goodParts[2],
	}
	for name, token := range cases {
		if sub, err := tk.ParseUser(token); err == nil {
			t.Errorf("%s: ParseUser accepted it (sub %q)", name, sub)
		} else if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: error %v does not wrap ErrInvalidToken", name, err)
		}
	}
}

// The 30 s leeway tolerates clock skew, no more.
func TestParseUser_ExpiryLeeway(t *testing.T) {
	tk := newFixedTokens(testSecret, testTTL, fixedNow)
	for _, tc := range []struct {
		expIn time.Duration
		ok    bool
	}{
		{time.Hour, true},
		{time.Second, true},
		{-time.Second, true},
		{-29 * time.Second, true},
		{-31 * time.Second, false},
		{-time.Hour, false},
	} {
		token := handMade(hs256Header, userPayload(t, "u1", fixedNow.Add(-2*time.Hour), fixedNow.Add(tc.expIn)), sha256.New, testSecret)
		_, err := tk.ParseUser(token)
		if (err == nil) != tc.ok {
			t.Errorf("exp = now%+v: ParseUser error %v, want accepted=%v", tc.expIn, err, tc.ok)
		}
	}
	// A token the server issued stops working once its ttl (plus leeway) is over.
	issuer := newFixedTokens(testSecret, time.Hour, fixedNow)
	token, err := issuer.IssueUser("u1", "e@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newFixedTokens(testSecret, time.Hour, fixedNow.Add(time.Hour+20*time.Second)).ParseUser(token); err != nil {
		t.Errorf("token rejected within the leeway after its ttl: %v", err)
	}
	if _, err := newFixedTokens(testSecret, time.Hour, fixedNow.Add(time.Hour+31*time.Second)).ParseUser(token); err == nil {
		t.Error("token accepted 31 s after its ttl ran out")
	}
}

func TestParticipantToken_RoundTrip(t *testing.T) {
	tk := newFixedTokens(testSecret, testTTL, fixedNow)
	token, err := tk.IssueParticipant("participant-1", "room-1")
	if err != nil {
		t.Fatal(err)
	}
	claims := decodeSegment(t, token, 1)
	if claims["typ"] != "participant" || claims["sub"] != "participant-1" || claims["rid"] != "room-1" {
		t.Errorf("participant claims = %v", claims)
	}
	if exp, iat := numericClaim(t, claims, "exp"), numericClaim(t, claims, "iat"); exp-iat != int64(testTTL/time.Second) {
		t.Errorf("participant token lifetime %ds, want %ds", exp-iat, int64(testTTL/time.Second))
	}
	pid, rid, err := tk.ParseParticipant(token)
	if err != nil || pid != "participant-1" || rid != "room-1" {
		t.Errorf("ParseParticipant = %q, %q, %v", pid, rid, err)
	}
	// Another server secret derives another participant key.
	if _, _, err := newFixedTokens([]byte("another-secret-of-at-least-32-bytes!!"), testTTL, fixedNow).ParseParticipant(token); err == nil {
		t.Error("participant token verified under another secret")
	}
	// Expired participant tokens are refused like user tokens.
	if _, _, err := newFixedTokens(testSecret, testTTL, fixedNow.Add(testTTL+time.Minute)).ParseParticipant(token); err == nil {
		t.Error("expired participant token accepted")
	}
}

// Neither token kind ever passes as the other, whatever claims it carries.
func TestTokenKindsNeverCross(t *testing.T) {
	tk := newFixedTokens(testSecret, testTTL, fixedNow)
	participant, err := tk.IssueParticipant("participant-1", "room-1")
	if err != nil {
		t.Fatal(err)
	}
	if sub, err := tk.ParseUser(participant); err == nil {
		t.Errorf("participant token verified as a user token (sub %q)", sub)
	}
	user, err := tk.IssueUser("user-1", "u@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if pid, rid, err := tk.ParseParticipant(user); err == nil {
		t.Errorf("user token verified as a participant token (%q, %q)", pid, rid)
	}

	iat, exp := fixedNow.Add(-time.Minute).Unix(), fixedNow.Add(time.Hour).Unix()
	forged := map[string]string{
		// Someone holding a user token (or the user secret, e.g. the legacy
		// service) crafts participant claims: still the wrong key.
		"user secret, typ=participant": handMade(hs256Header,
			string(mustJSON(t, map[string]any{"sub": "participant-1", "typ": "participant", "rid": "room-1", "iat": iat, "exp": exp})),
			sha256.New, testSecret),
		"user secret, typ=participant and email": handMade(hs256Header,
			string(mustJSON(t, map[string]any{"sub": "user-1", "email": "u@example.com", "typ": "participant", "rid": "room-1", "iat": iat, "exp": exp})),
			sha256.New, testSecret),
	}
	for name, token := range forged {
		if pid, rid, err := tk.ParseParticipant(token); err == nil {
			t.Errorf("%s: ParseParticipant accepted it (%q, %q)", name, pid, rid)
		}
		// A typ claim also disqualifies it as a user token.
		if sub, err := tk.ParseUser(token); err == nil {
			t.Errorf("%s: ParseUser accepted a token with typ=participant (sub %q)", name, sub)
		}
	}

	// Signed with the participant key but without typ or rid: not a
	// participant token either, and never a user token.
	for name, payload := range map[string]map[string]any{
		"no typ":    {"sub": "participant-1", "rid": "room-1", "iat": iat, "exp": exp},
		"typ user":  {"sub": "participant-1", "typ": "user", "rid": "room-1", "iat": iat, "exp": exp},
		"no rid":    {"sub": "participant-1", "typ": "participant", "iat": iat, "exp": exp},
		"no sub":    {"typ": "participant", "rid": "room-1", "iat": iat, "exp": exp},
		"no exp":    {"sub": "participant-1", "typ": "participant", "rid": "room-1", "iat": iat},
		"email sub": {"sub": "user-1", "email": "u@example.com", "iat": iat, "exp": exp},
	} {
		token := handMade(hs256Header, string(mustJSON(t, payload)), sha256.New, tk.participantKey)
		if _, _, err := tk.ParseParticipant(token); err == nil {
			t.Errorf("participant key, %s: ParseParticipant accepted it", name)
		}
		if _, err := tk.ParseUser(token); err == nil {
			t.Errorf("participant key, %s: ParseUser accepted it", name)
		}
	}
	// A hand-made participant token with the full claims does verify, so
	// the rejections above are about the claims, not the helper.
	ok := handMade(hs256Header, string(mustJSON(t, map[string]any{"sub": "participant-1", "typ": "participant", "rid": "room-1", "iat": iat, "exp": exp})), sha256.New, tk.participantKey)
	if _, _, err := tk.ParseParticipant(ok); err != nil {
		t.Errorf("well-formed hand-made participant token rejected: %v", err)
	}
}

// principalFor runs Middleware over r and returns the principal the next
// handler saw (and whether it was called at all).
func principalFor(t *testing.T, tk *Tokens, r *http.Request) (*Principal, bool) {
	t.Helper()
	var (
		got    *Principal
		called bool
	)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		got = FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	Middleware(tk)(next).ServeHTTP(rec, r)
	if called && rec.Code != http.StatusNoContent {
		t.Errorf("middleware changed the response status to %d", rec.Code)
	}
	return got, called
}

func TestMiddleware_AuthorizationHeader(t *testing.T) {
	tk := newFixedTokens(testSecret, testTTL, fixedNow)
	user, err := tk.IssueUser("user-1", "u@example.com")
	if err != nil {
		t.Fatal(err)
	}
	participant, err := tk.IssueParticipant("participant-1", "room-1")
	if err != nil {
		t.Fatal(err)
	}
	expired := handMade(hs256Header, userPayload(t, "user-1", fixedNow.Add(-2*time.Hour), fixedNow.Add(-time.Hour)), sha256.New, testSecret)

	type want struct{ user, participant, room string }
	valid := map[string]want{
		"Bearer " + user:          {user: "user-1"},
		"bearer " + user:          {user: "user-1"},
		"BEARER " + user:          {user: "user-1"},
		"bEaReR " + user:          {user: "user-1"},
		"Bearer " + user + " ":    {user: "user-1"},
		"Bearer " + participant:   {participant: "participant-1", room: "room-1"},
		"bearer " + participant:   {participant: "participant-1", room: "room-1"},
		"Bearer   " + participant: {participant: "participant-1", room: "room-1"},
	}
	for header, w := range valid {
		r := httptest.NewRequest(http.MethodPost, "/query", nil)
		r.Header.Set("Authorization", header)
		p, called := principalFor(t, tk, r)
		switch {
		case !called:
			t.Errorf("%.20q…: request not passed on", header)
		case p == nil:
			t.Errorf("%.20q…: no principal", header)
		case p.Err != nil || p.UserID != w.user || p.ParticipantID != w.participant || p.RoomID != w.room:
			t.Errorf("%.20q…: principal {user %q participant %q room %q err %v}, want %+v",
				header, p.UserID, p.ParticipantID, p.RoomID, p.Err, w)
		}
	}

	invalid := []string{
		"Basic " + base64.StdEncoding.EncodeToString([]byte("user:pass")),
		"Basic " + user,
		"Token " + user,
		"JWT " + user,
		"Bearer-" + user,
		"Bearer\t" + user,
		user, // no scheme at all
		"Bearer",
		"Bearer ",
		"Bearer    ",
		"Bearer garbage",
		"Bearer " + expired,
		"Bearer " + user + "x",
		"Bearer " + user + " " + user,
	}
	for _, header := range invalid {
		r := httptest.NewRequest(http.MethodPost, "/query", nil)
		r.Header.Set("Authorization", header)
		p, called := principalFor(t, tk, r)
		switch {
		case !called:
			t.Errorf("%.24q…: request rejected by the middleware; it must leave that to the operation", header)
		case p == nil:
			t.Errorf("%.24q…: treated as anonymous, want a principal with Err", header)
		case !errors.Is(p.Err, ErrInvalidToken) || p.UserID != "" || p.ParticipantID != "" || p.RoomID != "":
			t.Errorf("%.24q…: principal {user %q participant %q err %v}, want only Err=ErrInvalidToken",
				header, p.UserID, p.ParticipantID, p.Err)
		}
	}

	// No Authorization header: anonymous, whatever else carries a token.
	anon := map[string]*http.Request{"no header": httptest.NewRequest(http.MethodGet, "/query", nil)}
	for _, param := range []string{"access_token", "token", "jwt", "authorization"} {
		anon["?"+param] = httptest.NewRequest(http.MethodGet, "/query?"+param+"="+user, nil)
	}
	for _, name := range []string{"access_token", "token", "jwt", "Authorization", "auth"} {
		r := httptest.NewRequest(http.MethodGet, "/query", nil)
		r.AddCookie(&http.Cookie{Name: name, Value: user})
		anon["cookie "+name] = r
		r = httptest.NewRequest(http.MethodGet, "/query", nil)
		r.AddCookie(&http.Cookie{Name: name, Value: "Bearer " + user})
		anon["cookie "+name+" with scheme"] = r
	}
	for name, r := range anon {
		p, called := principalFor(t, tk, r)
		if !called {
			t.Errorf("%s: request not passed on", name)
		} else if p != nil {
			t.Errorf("%s: principal %+v, want none (tokens only come from the Authorization header)", name, p)
		}
	}

	// A token in the query string does not rescue a bad header either.
	r := httptest.NewRequest(http.MethodGet, "/query?access_token="+user, nil)
	r.Header.Set("Authorization", "Bearer garbage")
	if p, _ := principalFor(t, tk, r); p == nil || p.Err == nil || p.UserID != "" {
		t.Errorf("bad header plus ?access_token: principal %+v, want Err only", p)
	}
}

// A principal knows when its token stops verifying, so a stream opened
// with it can end then: exactly when a new request with the token would be
// refused, leeway included.
func TestPrincipal_ExpiresWhenItsTokenStopsVerifying(t *testing.T) {
	for _, leeway := range []time.Duration{DefaultLeeway, 0} {
		issuer := newFixedTokens(testSecret, time.Hour, fixedNow).WithLeeway(leeway)
		user, err := issuer.IssueUser("u1", "e@example.com")
		if err != nil {
			t.Fatal(err)
		}
		guest, err := issuer.IssueParticipant("p1", "r1")
		if err != nil {
			t.Fatal(err)
		}
		for what, token := range map[string]string{"user": user, "participant": guest} {
			p := issuer.PrincipalFor("Bearer " + token)
			if want := fixedNow.Add(time.Hour + leeway); p.Err != nil || !p.Expires.Equal(want) {
				t.Fatalf("%s token, leeway %v: Expires %v (err %v), want %v", what, leeway, p.Expires, p.Err, want)
			}
			at := func(now time.Time) *Principal {
				return newFixedTokens(testSecret, time.Hour, now).WithLeeway(leeway).PrincipalFor("Bearer " + token)
			}
			if before := at(p.Expires.Add(-time.Millisecond)); before.Err != nil {
				t.Errorf("%s token, leeway %v: refused just before Expires: %v", what, leeway, before.Err)
			}
			if after := at(p.Expires); after.Err == nil || !after.Expires.IsZero() {
				t.Errorf("%s token, leeway %v: still verifies at Expires (Expires %v)", what, leeway, after.Expires)
			}
		}
	}
}

// A token that verified is remembered (see principal), which must change
// nothing a caller can see: the same principal, a fresh one per request
// (its user is loaded once per request), refused from the instant it
// expires, and a token differing in one byte is not the remembered one.
func TestPrincipal_RememberedTokensStillExpireAndNeverMatchAnother(t *testing.T) {
	for _, leeway := range []time.Duration{DefaultLeeway, 0} {
		now := fixedNow
		tk := NewTokens(testSecret, time.Hour).WithLeeway(leeway)
		tk.now = func() time.Time { return now }
		user, err := tk.IssueUser("u1", "e@example.com")
		if err != nil {
			t.Fatal(err)
		}
		guest, err := tk.IssueParticipant("p1", "r1")
		if err != nil {
			t.Fatal(err)
		}
		for what, token := range map[string]string{"user": user, "participant": guest} {
			now = fixedNow
			first, second := tk.PrincipalFor("Bearer "+token), tk.PrincipalFor("Bearer "+token)
			if first.Err != nil || second.Err != nil || first == second ||
				first.UserID != second.UserID || first.ParticipantID != second.ParticipantID ||
				first.RoomID != second.RoomID || !first.Expires.Equal(second.Expires) {
				t.Fatalf("%s token: first %+v, again %+v: want two equal principals", what, first, second)
			}
			// The last signature character carries padding bits; flip one in
			// the middle of the signature.
			forged := []byte(token)
			if sig := strings.LastIndexByte(token, '.') + 5; forged[sig] == 'A' {
				forged[sig] = 'B'
			} else {
				forged[sig] = 'A'
			}
			if p := tk.PrincipalFor("Bearer " + string(forged)); p.Err == nil {
				t.Errorf("%s token: one byte changed in its signature, still verifies as %+v", what, p)
			}
			now = first.Expires.Add(-time.Millisecond)
			if p := tk.PrincipalFor("Bearer " + token); p.Err != nil {
				t.Errorf("%s token, leeway %v: refused just before it expires: %v", what, leeway, p.Err)
			}
			now = first.Expires
			if p := tk.PrincipalFor("Bearer " + token); p.Err == nil {
				t.Errorf("%s token, leeway %v: remembered past its expiry (%v)", what, leeway, first.Expires)
			}
		}
	}
}
