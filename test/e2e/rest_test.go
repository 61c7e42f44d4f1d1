package e2e

// End-to-end tests of the legacy REST shim (rest/), over real HTTP against
// the real wiring, on SQLite and on PostgreSQL. The documented contract is
// ../shared/contract, copied into testdata/contract so a fresh clone has it.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
)

// restPrefixes are the two mounts of every REST route: bare and under the
// legacy deployment's /api prefix.
var restPrefixes = []string{"", "/api"}

var (
	restTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)
	restCUIDRE = regexp.MustCompile(`^c[0-9a-z]{24}$`)
)

// restContractJSON returns a contract file from testdata/contract with the
// insignificant whitespace removed (key order is kept).
func restContractJSON(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "contract", name))
	if err != nil {
		t.Fatalf("read contract file: %v", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatalf("contract file %s is not JSON: %v", name, err)
	}
	return buf.Bytes()
}

// restRequest sends a request with exactly the headers given (srv.do always
// says "Bearer"; these tests need other Authorization headers, or none).
func restRequest(t testing.TB, srv *testServer, method, path string, header http.Header, body string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := srv.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// restPost posts a raw JSON body.
func restPost(t testing.TB, srv *testServer, path, body string) (int, http.Header, []byte) {
	t.Helper()
	return restRequest(t, srv, http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, body)
}

// restJSONBody marshals v for a request body.
func restJSONBody(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func restExpectJSONContentType(t testing.TB, h http.Header) {
	t.Helper()
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
}

// --- Hand-made JWTs, independent of this project's auth package ---------

var restB64 = base64.RawURLEncoding

// restSignJWT builds a compact JWS from a raw header and payload, signed
// with HMAC over newHash (nil leaves the signature empty, as alg=none does).
func restSignJWT(secret []byte, newHash func() hash.Hash, header, payload string) string {
	signingInput := restB64.EncodeToString([]byte(header)) + "." + restB64.EncodeToString([]byte(payload))
	if newHash == nil {
		return signingInput + "."
	}
	mac := hmac.New(newHash, secret)
	mac.Write([]byte(signingInput))
	return signingInput + "." + restB64.EncodeToString(mac.Sum(nil))
}

const restHS256Header = `{"alg":"HS256","typ":"JWT"}`

// restLegacyClaims is the payload the legacy NestJS service signed
// (JwtService.sign({sub, email}) adds iat, then exp), in its key order.
type restLegacyClaims struct {
	Sub   string `json:"sub"`
	Email string `json:"email"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

// restLegacyToken signs a token the way the legacy service did: HS256 over
// {"sub","email","iat","exp"} with the shared secret.
func restLegacyToken(t testing.TB, sub, email string, iat, exp time.Time) string {
	t.Helper()
	payload := restJSONBody(t, restLegacyClaims{Sub: sub, Email: email, Iat: iat.Unix(), Exp: exp.Unix()})
	return restSignJWT([]byte(testSecret), sha256.New, restHS256Header, payload)
}

// restVerifyHS256 checks by hand that token is an HS256 JWT signed with
// secret and returns its header and claims.
func restVerifyHS256(t testing.TB, token string, secret []byte) (header map[string]any, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", token)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := restB64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		t.Fatalf("token signature is not HMAC-SHA256 with the shared secret")
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := restB64.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("token part %d is not base64url: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("token part %d is not JSON: %v", i, err)
		}
	}
	return header, claims
}

// --- Ordered JSON --------------------------------------------------------

// restObj is a JSON object with its keys in document order.
type restObj struct {
	Keys []string
	Vals map[string]json.RawMessage
}

// restObject parses raw as a JSON object, keeping key order.
func restObject(t testing.TB, raw []byte) restObj {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", raw)
	}
	o := restObj{Vals: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("bad object %s: %v", raw, err)
		}
		key := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("bad object %s: %v", raw, err)
		}
		if _, dup := o.Vals[key]; dup {
			t.Fatalf("duplicate key %q in %s", key, raw)
		}
		o.Keys = append(o.Keys, key)
		o.Vals[key] = v
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("bad object %s: %v", raw, err)
	}
	return o
}

// str returns the string value of key, failing unless it is a string.
func (o restObj) str(t testing.TB, key string) string {
	t.Helper()
	var s *string
	if err := json.Unmarshal(o.Vals[key], &s); err != nil || s == nil {
		t.Fatalf("%q = %s, want a string", key, o.Vals[key])
	}
	return *s
}

// boolean returns the boolean value of key.
func (o restObj) boolean(t testing.TB, key string) bool {
	t.Helper()
	var b *bool
	if err := json.Unmarshal(o.Vals[key], &b); err != nil || b == nil {
		t.Fatalf("%q = %s, want a boolean", key, o.Vals[key])
	}
	return *b
}

// restArray parses raw as a JSON array (never null).
func restArray(t testing.TB, raw []byte) []json.RawMessage {
	t.Helper()
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil || a == nil {
		t.Fatalf("not a JSON array: %s", raw)
	}
	return a
}

func restExpectKeys(t testing.TB, what string, o restObj, want ...string) {
	t.Helper()
	if !slices.Equal(o.Keys, want) {
		t.Fatalf("%s keys = %v, want exactly %v in that order", what, o.Keys, want)
	}
}

// --- Fixtures ------------------------------------------------------------

// restUsersSnapshot renders the whole users table, to prove a rejected
// request changed nothing.
func restUsersSnapshot(t testing.TB, bdb *bun.DB) string {
	t.Helper()
	var rows []struct {
		ID, Email, PasswordHash, DisplayName string
		Name, AvatarURL                      *string
		CreatedAt, UpdatedAt                 time.Time
	}
	err := bdb.NewSelect().Table("users").
		Column("id", "email", "password_hash", "display_name", "name", "avatar_url", "created_at", "updated_at").
		OrderExpr("id").Scan(context.Background(), &rows)
	if err != nil {
		t.Fatalf("snapshot users: %v", err)
	}
	var b strings.Builder
	deref := func(s *string) string { // by value: %v of a pointer is its address
		if s == nil {
			return "<null>"
		}
		return *s
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s|%d|%d\n", r.ID, r.Email, r.PasswordHash, r.DisplayName,
			deref(r.Name), deref(r.AvatarURL), r.CreatedAt.UnixNano(), r.UpdatedAt.UnixNano())
	}
	return b.String()
}

func restUserCount(t testing.TB, bdb *bun.DB) int64 {
	t.Helper()
	n, err := bdb.NewSelect().Table("users").Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func restTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UTC()
}

// The documented example's host.
const restExampleHostID = "clh3x1k5g0000l408xyz11111"

// restSeedContractExample inserts exactly the rows behind
// users-me-rooms.example.json, timestamps bound as UTC time.Time values so
// each dialect stores them as the app's own writes do.
func restSeedContractExample(t testing.TB, bdb *bun.DB) {
	t.Helper()
	ts := func(s string) time.Time { return restTime(t, s) }
	dbtest.Exec(t, bdb, `INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		restExampleHostID, "host@example.com", "$2a$04$notarealhashnotarealhashnotarealhashnotarealhashnotr", "Example Host",
		ts("2024-01-15T08:00:00.000Z"), ts("2024-01-15T08:00:00.000Z"))

	const roomSQL = `INSERT INTO rooms (id, code, name, host_id, is_active, is_locked, started_at, ended_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	ended := ts("2024-03-02T15:30:00.000Z")
	dbtest.Exec(t, bdb, roomSQL, "clh3x2k5g0001l408xyz12345", "abc-def-ghi", "Team Standup", restExampleHostID, true, false,
		ts("2024-03-03T10:00:00.000Z"), (*time.Time)(nil), ts("2024-03-03T09:55:00.000Z"), ts("2024-03-03T10:00:00.000Z"))
	dbtest.Exec(t, bdb, roomSQL, "clh3x5k5g0004l408xyz44444", "jkl-mno-pqr", "Client Presentation", restExampleHostID, false, false,
		ts("2024-03-02T14:00:00.000Z"), &ended, ts("2024-03-02T13:55:00.000Z"), ts("2024-03-02T15:30:00.000Z"))

	const settingsSQL = `INSERT INTO room_settings (id, room_id, allow_chat, allow_screen_share, allow_guest_access, waiting_room, mute_participants_on_join, max_participants) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	dbtest.Exec(t, bdb, settingsSQL, "clh3x2k5g0101l408xyzset01", "clh3x2k5g0001l408xyz12345", true, true, true, false, false, 100)
	dbtest.Exec(t, bdb, settingsSQL, "clh3x5k5g0104l408xyzset04", "clh3x5k5g0004l408xyz44444", true, true, false, true, true, 50)

	const participantSQL = `INSERT INTO participants (id, room_id, user_id, guest_name, is_active, is_host, joined_at, left_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	host := restExampleHostID
	guest := "Client Guest"
	noTime := (*time.Time)(nil)
	noStr := (*string)(nil)
	dbtest.Exec(t, bdb, participantSQL, "clh3x3k5g0002l408xyz22222", "clh3x2k5g0001l408xyz12345", &host, noStr, true, true,
		ts("2024-03-03T10:00:00.000Z"), noTime)
	dbtest.Exec(t, bdb, participantSQL, "clh3x4k5g0003l408xyz33333", "clh3x2k5g0001l408xyz12345", noStr, &guest, true, false,
		ts("2024-03-03T10:02:00.000Z"), noTime)
	dbtest.Exec(t, bdb, participantSQL, "clh3x6k5g0005l408xyz55555", "clh3x5k5g0004l408xyz44444", &host, noStr, false, true,
		ts("2024-03-02T14:00:00.000Z"), &ended)
}

// --- 1. The golden contract test ----------------------------------------

// Seeding exactly the documented example's rows and calling the endpoint
// with a token signed the way the legacy service signs them returns the
// documented example, byte for byte once its whitespace is removed.
func TestUsersMeRooms_MatchesContractExample(t *testing.T) {
	want := restContractJSON(t, "users-me-rooms.example.json")
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		restSeedContractExample(t, bdb)
		now := time.Now()
		token := restLegacyToken(t, restExampleHostID, "host@example.com", now, now.Add(time.Hour))
		for _, prefix := range restPrefixes {
			path := prefix + "/users/me/rooms"
			status, h, body := srv.do(http.MethodGet, path, token, nil)
			if status != http.StatusOK {
				t.Fatalf("GET %s: HTTP %d %s, want 200", path, status, body)
			}
			restExpectJSONContentType(t, h)
			if !bytes.Equal(body, want) {
				t.Errorf("GET %s body differs from the contract example\n got: %s\nwant: %s", path, body, want)
			}
		}
	})
}

// The testdata copies must not drift from the contract they were copied
// from, wherever that contract is checked out next to the repository.
func TestRESTContractCopies_MatchShared(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "shared", "contract")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("%s not present (fresh clone): nothing to compare the copies with", shared)
	}
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, name := range []string{"users-me-rooms.example.json", "unauthorized.json"} {
		if !bytes.Equal(read(filepath.Join(shared, name)), read(filepath.Join("testdata", "contract", name))) {
			t.Errorf("testdata/contract/%s differs from %s: copy it again", name, filepath.Join(shared, name))
		}
	}
	if !bytes.HasSuffix(read(filepath.Join("testdata", "contract", "README.md")), read(filepath.Join(shared, "README.md"))) {
		t.Errorf("testdata/contract/README.md does not end with %s verbatim: copy it again", filepath.Join(shared, "README.md"))
	}
}

// --- 2. Unauthorized ------------------------------------------------------

// Every way of not presenting a valid user token gets the contract's exact
// 401 body and a WWW-Authenticate: Bearer challenge, on both mounts. A
// valid hand-made token for the same user gets 200 first, so each case
// fails for its one defect only.
func TestUsersMeRooms_Unauthorized(t *testing.T) {
	wantBody := restContractJSON(t, "unauthorized.json")
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		user := srv.register("user@example.com", "User")
		gone := srv.register("gone@example.com", "Gone")
		room := srv.createRoom(user.Token, map[string]any{"name": "Guests welcome"})
		guestJoin, res := srv.join("", room.Code, strPtr("Guest"))
		if res.code() != "" {
			t.Fatalf("guest join: %+v", res.Errors)
		}

		now := time.Now()
		iat, exp := now.Unix(), now.Add(time.Hour).Unix()
		claims := func(m map[string]any) string { return restJSONBody(t, m) }
		valid := restLegacyToken(t, user.ID, user.Email, now, now.Add(time.Hour))
		goneToken := restLegacyToken(t, gone.ID, gone.Email, now, now.Add(time.Hour))
		for _, tok := range []string{valid, goneToken} {
			if status, _, body := srv.do(http.MethodGet, "/users/me/rooms", tok, nil); status != http.StatusOK {
				t.Fatalf("control: a valid hand-made token gets HTTP %d %s, want 200", status, body)
			}
		}
		dbtest.Exec(t, bdb, `DELETE FROM users WHERE id = ?`, gone.ID)

		// valid with another user's sub but the original signature.
		parts := strings.Split(valid, ".")
		tampered := parts[0] + "." + restB64.EncodeToString([]byte(claims(map[string]any{"sub": gone.ID, "email": user.Email, "iat": iat, "exp": exp}))) + "." + parts[2]

		cases := []struct {
			name   string
			header string // Authorization; "" sends none
		}{
			{"no Authorization header", ""},
			{"garbage bearer token", "Bearer garbage"},
			{"empty bearer token", "Bearer "},
			{"bare scheme", "Bearer"},
			{"signed with another secret", "Bearer " + restSignJWT([]byte("some-other-secret-of-32-bytes-long!"), sha256.New, restHS256Header,
				claims(map[string]any{"sub": user.ID, "email": user.Email, "iat": iat, "exp": exp}))},
			{"expired", "Bearer " + restLegacyToken(t, user.ID, user.Email, now.Add(-2*time.Hour), now.Add(-time.Hour))},
			{"alg none", "Bearer " + restSignJWT(nil, nil, `{"alg":"none","typ":"JWT"}`,
				claims(map[string]any{"sub": user.ID, "email": user.Email, "iat": iat, "exp": exp}))},
			{"alg HS384 with the right secret", "Bearer " + restSignJWT([]byte(testSecret), sha512.New384, `{"alg":"HS384","typ":"JWT"}`,
				claims(map[string]any{"sub": user.ID, "email": user.Email, "iat": iat, "exp": exp}))},
			{"no exp", "Bearer " + restSignJWT([]byte(testSecret), sha256.New, restHS256Header,
				claims(map[string]any{"sub": user.ID, "email": user.Email, "iat": iat}))},
			{"no sub", "Bearer " + restSignJWT([]byte(testSecret), sha256.New, restHS256Header,
				claims(map[string]any{"email": user.Email, "iat": iat, "exp": exp}))},
			{"empty sub", "Bearer " + restSignJWT([]byte(testSecret), sha256.New, restHS256Header,
				claims(map[string]any{"sub": "", "email": user.Email, "iat": iat, "exp": exp}))},
			{"user deleted", "Bearer " + goneToken},
			{"tampered payload", "Bearer " + tampered},
			{"participant token", "Bearer " + guestJoin.Token},
			{"Basic scheme", "Basic " + valid},
			{"Token scheme", "Token " + valid},
			{"no scheme", valid},
		}
		for _, prefix := range restPrefixes {
			path := prefix + "/users/me/rooms"
			for _, c := range cases {
				var h http.Header
				if c.header != "" {
					h = http.Header{"Authorization": {c.header}}
				}
				status, rh, body := restRequest(t, srv, http.MethodGet, path, h, "")
				if status != http.StatusUnauthorized {
					t.Errorf("%s, GET %s: HTTP %d %s, want 401", c.name, path, status, body)
					continue
				}
				if !bytes.Equal(body, wantBody) {
					t.Errorf("%s, GET %s: body %s, want exactly %s", c.name, path, body, wantBody)
				}
				if got := rh.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("%s, GET %s: WWW-Authenticate = %q, want a Bearer challenge", c.name, path, got)
				}
				restExpectJSONContentType(t, rh)
			}
		}
	})
}

// --- 3. Register and login -------------------------------------------------

// restCheckAuthResponse checks a 201 {"user":{...},"accessToken":...} body
// and returns the user object and the token.
func restCheckAuthResponse(t testing.TB, what string, status int, h http.Header, body []byte, wantEmail, wantDisplayName string) (restObj, string) {
	t.Helper()
	if status != http.StatusCreated {
		t.Fatalf("%s: HTTP %d %s, want 201", what, status, body)
	}
	restExpectJSONContentType(t, h)
	top := restObject(t, body)
	restExpectKeys(t, what+" body", top, "user", "accessToken")
	user := restObject(t, top.Vals["user"])
	restExpectKeys(t, what+" user", user, "id", "email", "name", "displayName", "avatarUrl", "createdAt")
	if id := user.str(t, "id"); !restCUIDRE.MatchString(id) {
		t.Errorf("%s: user id %q is not a cuid", what, id)
	}
	if got := user.str(t, "email"); got != wantEmail {
		t.Errorf("%s: email = %q, want %q", what, got, wantEmail)
	}
	if got := user.str(t, "displayName"); got != wantDisplayName {
		t.Errorf("%s: displayName = %q, want %q", what, got, wantDisplayName)
	}
	for _, k := range []string{"name", "avatarUrl"} {
		if string(user.Vals[k]) != "null" {
			t.Errorf("%s: %s = %s, want null for a new account", what, k, user.Vals[k])
		}
	}
	created := user.str(t, "createdAt")
	if !restTimeRE.MatchString(created) {
		t.Errorf("%s: createdAt %q is not YYYY-MM-DDTHH:MM:SS.mmmZ", what, created)
	} else if d := time.Since(restTime(t, created)); d < -time.Minute || d > time.Minute {
		t.Errorf("%s: createdAt %s is not now", what, created)
	}
	token := top.str(t, "accessToken")
	// Legacy clients verify and read these tokens with their own HS256
	// code: check the signature and claims by hand.
	header, claims := restVerifyHS256(t, token, []byte(testSecret))
	if header["alg"] != "HS256" {
		t.Errorf("%s: token alg = %v, want HS256", what, header["alg"])
	}
	if claims["sub"] != user.str(t, "id") || claims["email"] != wantEmail {
		t.Errorf("%s: token claims %v, want sub=%s email=%s", what, claims, user.str(t, "id"), wantEmail)
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if d := time.Since(time.Unix(int64(iat), 0)); d < -time.Minute || d > time.Minute {
		t.Errorf("%s: token iat %v is not now", what, claims["iat"])
	}
	if exp-iat != (7 * 24 * time.Hour).Seconds() {
		t.Errorf("%s: token lifetime %vs, want the default 7 days", what, exp-iat)
	}
	return user, token
}

// restExpectNoRooms checks token signs its user in on GET /users/me/rooms
// and that they host nothing yet.
func restExpectNoRooms(t testing.TB, srv *testServer, prefix, token string) {
	t.Helper()
	status, h, body := srv.do(http.MethodGet, prefix+"/users/me/rooms", token, nil)
	if status != http.StatusOK || string(body) != "[]" {
		t.Fatalf("GET %s/users/me/rooms with the new token: HTTP %d %s, want 200 []", prefix, status, body)
	}
	restExpectJSONContentType(t, h)
}

// Register and login answer 201 with the legacy body in its key order, on
// both mounts; the token they return works on the protected route.
func TestRESTAuth_RegisterAndLogin(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		for i, prefix := range restPrefixes {
			email := fmt.Sprintf("new.user%d@example.com", i)
			before := restUserCount(t, bdb)
			status, h, body := restPost(t, srv, prefix+"/auth/register", restJSONBody(t, map[string]any{
				"email": "  " + strings.ToUpper(email) + " ", "password": "correct-horse", "displayName": "  New User ",
			}))
			regUser, regToken := restCheckAuthResponse(t, "POST "+prefix+"/auth/register", status, h, body, email, "New User")
			if n := restUserCount(t, bdb); n != before+1 {
				t.Fatalf("register added %d users, want 1", n-before)
			}
			restExpectNoRooms(t, srv, prefix, regToken)

			snap := restUsersSnapshot(t, bdb)
			status, h, body = restPost(t, srv, prefix+"/auth/login", restJSONBody(t, map[string]any{
				"email": " " + strings.ToUpper(email), "password": "correct-horse",
			}))
			loginUser, loginToken := restCheckAuthResponse(t, "POST "+prefix+"/auth/login", status, h, body, email, "New User")
			if !slices.Equal(loginUser.Keys, regUser.Keys) {
				t.Fatalf("login user keys %v differ from register's %v", loginUser.Keys, regUser.Keys)
			}
			for _, k := range regUser.Keys {
				if !bytes.Equal(loginUser.Vals[k], regUser.Vals[k]) {
					t.Errorf("login user %s = %s, register said %s", k, loginUser.Vals[k], regUser.Vals[k])
				}
			}
			restExpectNoRooms(t, srv, prefix, loginToken)
			if restUsersSnapshot(t, bdb) != snap {
				t.Errorf("login changed the users table")
			}
		}
	})
}

// restExpectBadRequest checks a 400 in the legacy validation shape and
// returns its messages.
func restExpectBadRequest(t testing.TB, what string, status int, h http.Header, body []byte) []string {
	t.Helper()
	if status != http.StatusBadRequest {
		t.Fatalf("%s: HTTP %d %s, want 400", what, status, body)
	}
	restExpectJSONContentType(t, h)
	o := restObject(t, body)
	restExpectKeys(t, what+" body", o, "message", "error", "statusCode")
	var messages []string
	if err := json.Unmarshal(o.Vals["message"], &messages); err != nil || len(messages) == 0 {
		t.Fatalf("%s: message = %s, want a non-empty array of strings", what, o.Vals["message"])
	}
	for _, m := range messages {
		if m == "" || strings.TrimSpace(m) != m {
			t.Errorf("%s: message %q is empty or padded", what, m)
		}
	}
	if o.str(t, "error") != "Bad Request" || string(o.Vals["statusCode"]) != "400" {
		t.Fatalf("%s: body %s, want error \"Bad Request\" and statusCode 400", what, body)
	}
	return messages
}

// Invalid register and login bodies get 400 in the legacy shape, listing
// every bad field at once, and leave the users table as it was.
func TestRESTAuth_ValidationErrors(t *testing.T) {
	type check func(t *testing.T, messages []string)
	// mentions wants one message per field, in order, each naming it.
	mentions := func(fields ...string) check {
		return func(t *testing.T, messages []string) {
			t.Helper()
			if len(messages) != len(fields) {
				t.Fatalf("messages %q, want %d (one per bad field: %v)", messages, len(fields), fields)
			}
			for i, f := range fields {
				if !strings.Contains(messages[i], f) {
					t.Errorf("message %d %q does not name %s", i, messages[i], f)
				}
			}
		}
	}
	has := func(want string) check {
		return func(t *testing.T, messages []string) {
			t.Helper()
			for _, m := range messages {
				if strings.Contains(m, want) {
					return
				}
			}
			t.Errorf("messages %q, want one containing %q", messages, want)
		}
	}
	exactly := func(want ...string) check {
		return func(t *testing.T, messages []string) {
			t.Helper()
			if !slices.Equal(messages, want) {
				t.Errorf("messages %q, want %q", messages, want)
			}
		}
	}
	ok := `"email":"someone@example.com","password":"correct-horse"`
	cases := []struct {
		name  string
		route string // register or login
		body  string
		check check
	}{
		{"three bad fields", "register", `{"email":"not-an-email","password":"short","displayName":"x"}`,
			func(t *testing.T, m []string) {
				t.Helper()
				mentions("email", "password", "displayName")(t, m)
				if len(m) == 3 && m[0] != "email must be an email" {
					t.Errorf("first message %q, want \"email must be an email\"", m[0])
				}
			}},
		{"empty object", "register", `{}`, mentions("email", "password", "displayName")},
		{"null body", "register", `null`, mentions("email", "password", "displayName")},
		{"bad email only", "register", `{"email":"a@b","password":"correct-horse","displayName":"Ann"}`, exactly("email must be an email")},
		{"email with display name", "register", `{"email":"Ann <ann@example.com>","password":"correct-horse","displayName":"Ann"}`, exactly("email must be an email")},
		{"password 73 bytes", "register", `{"email":"ann@example.com","password":"` + strings.Repeat("p", 73) + `","displayName":"Ann"}`, mentions("password")},
		{"password 7 bytes", "register", `{"email":"ann@example.com","password":"1234567","displayName":"Ann"}`, mentions("password")},
		{"displayName blank", "register", `{"email":"ann@example.com","password":"correct-horse","displayName":"   "}`, mentions("displayName")},
		{"displayName 51 chars", "register", `{"email":"ann@example.com","password":"correct-horse","displayName":"` + strings.Repeat("é", 51) + `"}`, mentions("displayName")},
		{"unknown key", "register", `{` + ok + `,"displayName":"Ann","foo":1}`, has("property foo should not exist")},
		{"malformed JSON", "register", `{"email":"ann@example.com",`, nil},
		{"not JSON", "register", `email=ann@example.com`, nil},
		{"empty body", "register", ``, exactly("request body must be a JSON object")},
		{"array body", "register", `[]`, exactly("request body must be a JSON object")},
		{"string body", "register", `"hello"`, exactly("request body must be a JSON object")},
		{"number body", "login", `42`, exactly("request body must be a JSON object")},
		{"body over 64 KiB", "register", `{"email":"ann@example.com","password":"correct-horse","displayName":"` + strings.Repeat("a", 70<<10) + `"}`, exactly("request body too large")},
		{"trailing data", "register", `{` + ok + `,"displayName":"Ann"} {}`, nil},
		{"email is a number", "register", `{"email":5,"password":"correct-horse","displayName":"Ann"}`, has("email")},
		{"password is a boolean", "register", `{"email":"ann@example.com","password":true,"displayName":"Ann"}`, has("password")},
		{"displayName is an object", "register", `{"email":"ann@example.com","password":"correct-horse","displayName":{}}`, has("displayName")},
		{"login bad email", "login", `{"email":"nope","password":"correct-horse"}`, exactly("email must be an email")},
		{"login no password", "login", `{"email":"someone@example.com"}`, mentions("password")},
		{"login unknown key", "login", `{` + ok + `,"displayName":"Ann"}`, has("property displayName should not exist")},
		{"login malformed JSON", "login", `{"email"`, nil},
		{"login email is a number", "login", `{"email":5,"password":"correct-horse"}`, has("email")},
		{"login empty body", "login", ``, nil},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		srv.register("someone@example.com", "Someone") // login cases name a real account
		for _, prefix := range restPrefixes {
			for _, c := range cases {
				t.Run(strings.TrimPrefix(prefix+"/"+c.route, "/")+"/"+c.name, func(t *testing.T) {
					snap := restUsersSnapshot(t, bdb)
					path := prefix + "/auth/" + c.route
					status, h, body := restPost(t, srv, path, c.body)
					messages := restExpectBadRequest(t, "POST "+path+" "+c.body, status, h, body)
					if c.check != nil {
						c.check(t, messages)
					}
					if restUsersSnapshot(t, bdb) != snap {
						t.Errorf("a rejected request changed the users table")
					}
				})
			}
		}
	})
}

// A second registration of an email, in any case and padding, is 409 with
// the legacy body; the first account keeps its password.
func TestRESTAuth_DuplicateEmailConflict(t *testing.T) {
	const want = `{"message":"Email already registered","error":"Conflict","statusCode":409}`
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		status, _, body := restPost(t, srv, "/auth/register", `{"email":"alice@example.com","password":"first-password","displayName":"Alice"}`)
		if status != http.StatusCreated {
			t.Fatalf("register: HTTP %d %s", status, body)
		}
		for _, prefix := range restPrefixes {
			for _, email := range []string{"alice@example.com", " ALICE@Example.com "} {
				snap := restUsersSnapshot(t, bdb)
				path := prefix + "/auth/register"
				status, h, body := restPost(t, srv, path, restJSONBody(t, map[string]any{
					"email": email, "password": "second-password", "displayName": "Impostor",
				}))
				if status != http.StatusConflict || string(body) != want {
					t.Errorf("POST %s %q again: HTTP %d %s, want 409 %s", path, email, status, body, want)
				}
				restExpectJSONContentType(t, h)
				if restUsersSnapshot(t, bdb) != snap {
					t.Errorf("a rejected registration changed the users table")
				}
			}
		}
		if status, _, body := restPost(t, srv, "/auth/login", `{"email":"alice@example.com","password":"first-password"}`); status != http.StatusCreated {
			t.Errorf("the first account's password stopped working: HTTP %d %s", status, body)
		}
		if status, _, _ := restPost(t, srv, "/auth/login", `{"email":"alice@example.com","password":"second-password"}`); status != http.StatusUnauthorized {
			t.Errorf("the rejected registration's password signs in: HTTP %d", status)
		}
	})
}

// A wrong password and an unknown email get the same legacy 401 and change
// nothing.
func TestRESTAuth_InvalidCredentials(t *testing.T) {
	const want = `{"message":"Invalid credentials","error":"Unauthorized","statusCode":401}`
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		srv.register("bob@example.com", "Bob") // password "correct-horse"
		cases := map[string]string{
			"wrong password":          `{"email":"bob@example.com","password":"wrong-horse"}`,
			"password in other case":  `{"email":"bob@example.com","password":"CORRECT-HORSE"}`,
			"password with a space":   `{"email":"bob@example.com","password":"correct-horse "}`,
			"unknown email":           `{"email":"nobody@example.com","password":"correct-horse"}`,
			"unknown email, long pwd": `{"email":"nobody@example.com","password":"` + strings.Repeat("x", 80) + `"}`,
		}
		for _, prefix := range restPrefixes {
			path := prefix + "/auth/login"
			for name, body := range cases {
				snap := restUsersSnapshot(t, bdb)
				status, h, got := restPost(t, srv, path, body)
				if status != http.StatusUnauthorized || string(got) != want {
					t.Errorf("%s, POST %s: HTTP %d %s, want 401 %s", name, path, status, got, want)
				}
				restExpectJSONContentType(t, h)
				if restUsersSnapshot(t, bdb) != snap {
					t.Errorf("%s: a failed login changed the users table", name)
				}
			}
			// Control: the account exists and its password works.
			if status, _, got := restPost(t, srv, path, `{"email":"bob@example.com","password":"correct-horse"}`); status != http.StatusCreated {
				t.Fatalf("control login: HTTP %d %s", status, got)
			}
		}
	})
}

// --- 4. Ordering and the participant lifecycle ---------------------------

// restRoom is one room of GET /users/me/rooms, checked for the contract's
// key order and formats.
type restRoom struct {
	obj          restObj
	settings     restObj
	participants []restObj
}

func restGetRooms(t testing.TB, srv *testServer, prefix, token string) []restRoom {
	t.Helper()
	status, h, body := srv.do(http.MethodGet, prefix+"/users/me/rooms", token, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s/users/me/rooms: HTTP %d %s", prefix, status, body)
	}
	restExpectJSONContentType(t, h)
	var rooms []restRoom
	for _, raw := range restArray(t, body) {
		o := restObject(t, raw)
		restExpectKeys(t, "room", o, "id", "code", "name", "hostId", "isActive", "isLocked",
			"startedAt", "endedAt", "createdAt", "updatedAt", "settings", "participants")
		for _, k := range []string{"startedAt", "endedAt", "createdAt", "updatedAt"} {
			if string(o.Vals[k]) == "null" && (k == "startedAt" || k == "endedAt") {
				continue
			}
			if s := o.str(t, k); !restTimeRE.MatchString(s) {
				t.Errorf("room %s = %q, want YYYY-MM-DDTHH:MM:SS.mmmZ", k, s)
			}
		}
		if code := o.str(t, "code"); !regexp.MustCompile(`^[a-z]{3}-[a-z]{3}-[a-z]{3}$`).MatchString(code) {
			t.Errorf("room code %q is not xxx-xxx-xxx", code)
		}
		r := restRoom{obj: o, settings: restObject(t, o.Vals["settings"])}
		restExpectKeys(t, "settings", r.settings, "allowChat", "allowScreenShare", "allowGuestAccess",
			"waitingRoom", "muteParticipantsOnJoin", "maxParticipants")
		for _, praw := range restArray(t, o.Vals["participants"]) {
			p := restObject(t, praw)
			if _, left := p.Vals["leftAt"]; left {
				restExpectKeys(t, "participant", p, "id", "isActive", "isHost", "joinedAt", "leftAt")
			} else {
				restExpectKeys(t, "participant", p, "id", "isActive", "isHost", "joinedAt")
			}
			for _, k := range p.Keys {
				if strings.HasSuffix(k, "At") && !restTimeRE.MatchString(p.str(t, k)) {
					t.Errorf("participant %s = %q, want YYYY-MM-DDTHH:MM:SS.mmmZ", k, p.str(t, k))
				}
			}
			r.participants = append(r.participants, p)
		}
		rooms = append(rooms, r)
	}
	return rooms
}

func restRoomIDs(t testing.TB, rooms []restRoom) []string {
	t.Helper()
	ids := make([]string, len(rooms))
	for i, r := range rooms {
		ids[i] = r.obj.str(t, "id")
	}
	return ids
}

func restParticipantIDs(t testing.TB, r restRoom) []string {
	t.Helper()
	ids := make([]string, len(r.participants))
	for i, p := range r.participants {
		ids[i] = p.str(t, "id")
	}
	return ids
}

// restPause makes the next write's millisecond timestamp strictly later.
func restPause() { time.Sleep(5 * time.Millisecond) }

// Rooms built through GraphQL come back newest first with their
// participants in join order; leftAt appears only once someone has left;
// endedAt is null while the room is active; only the caller's rooms show.
func TestUsersMeRooms_OrderAndParticipantLifecycle(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		host := srv.register("host@example.com", "Host")
		other := srv.register("other@example.com", "Other")

		if rooms := restGetRooms(t, srv, "", host.Token); len(rooms) != 0 {
			t.Fatalf("a new host has %d rooms", len(rooms))
		}

		alpha := srv.createRoom(host.Token, map[string]any{"name": "Alpha"})
		restPause()
		beta := srv.createRoom(host.Token, map[string]any{"name": "Beta", "maxParticipants": 10, "waitingRoom": true, "allowChat": false})
		restPause()
		gamma := srv.createRoom(host.Token, map[string]any{"name": "Gamma"})
		othersRoom := srv.createRoom(other.Token, map[string]any{"name": "Not the host's"})

		mustJoin := func(token, code string, guest *string) string {
			t.Helper()
			j, res := srv.join(token, code, guest)
			if res.code() != "" {
				t.Fatalf("join %s: %+v", code, res.Errors)
			}
			restPause()
			return j.ParticipantID
		}
		// Alpha: the host, then the other user, then a guest; the other
		// user leaves.
		alphaHost := mustJoin(host.Token, alpha.Code, nil)
		alphaOther := mustJoin(other.Token, alpha.Code, nil)
		alphaGuest := mustJoin("", alpha.Code, strPtr("Gus"))

		before := restGetRooms(t, srv, "", host.Token)
		if len(before) != 3 {
			t.Fatalf("host has %d rooms, want 3", len(before))
		}
		if got := restParticipantIDs(t, before[2]); !slices.Equal(got, []string{alphaHost, alphaOther, alphaGuest}) {
			t.Fatalf("Alpha participants %v, want join order %v", got, []string{alphaHost, alphaOther, alphaGuest})
		}
		for _, p := range before[2].participants {
			if _, has := p.Vals["leftAt"]; has || !p.boolean(t, "isActive") {
				t.Fatalf("participant %s has left before anyone left: %v", p.str(t, "id"), p.Keys)
			}
		}

		leave := srv.gql(other.Token, `mutation($id: ID!) { leaveRoom(participantId: $id) { id leftAt } }`, map[string]any{"id": alphaOther})
		leave.decode(t, new(any))
		restPause()

		// Beta: the host and a guest join; the host ends it.
		betaHost := mustJoin(host.Token, beta.Code, nil)
		betaGuest := mustJoin("", beta.Code, strPtr("Gwen"))
		end := srv.gql(host.Token, `mutation($id: ID!) { endRoom(roomId: $id) { endedAt } }`, map[string]any{"id": beta.ID})
		var ended struct{ EndRoom struct{ EndedAt string } }
		end.decode(t, &ended)

		for _, prefix := range restPrefixes {
			rooms := restGetRooms(t, srv, prefix, host.Token)
			if got, want := restRoomIDs(t, rooms), []string{gamma.ID, beta.ID, alpha.ID}; !slices.Equal(got, want) {
				t.Fatalf("GET %s/users/me/rooms ids %v, want newest first %v (and never another host's room %s)", prefix, got, want, othersRoom.ID)
			}
			for i := 1; i < len(rooms); i++ {
				if prev, cur := rooms[i-1].obj.str(t, "createdAt"), rooms[i].obj.str(t, "createdAt"); cur >= prev {
					t.Errorf("room %d createdAt %s is not older than room %d's %s", i, cur, i-1, prev)
				}
			}
			g, b, a := rooms[0], rooms[1], rooms[2]
			for _, r := range rooms {
				if r.obj.str(t, "hostId") != host.ID {
					t.Errorf("room %s hostId %s, want %s", r.obj.str(t, "id"), r.obj.str(t, "hostId"), host.ID)
				}
			}

			// Gamma: active, nobody joined: endedAt null, participants [].
			if !g.obj.boolean(t, "isActive") || string(g.obj.Vals["endedAt"]) != "null" || string(g.obj.Vals["participants"]) != "[]" {
				t.Errorf("Gamma: isActive %s endedAt %s participants %s, want true null []",
					g.obj.Vals["isActive"], g.obj.Vals["endedAt"], g.obj.Vals["participants"])
			}
			if g.obj.str(t, "name") != "Gamma" || string(g.settings.Vals["maxParticipants"]) != "50" {
				t.Errorf("Gamma: name %s settings %v", g.obj.Vals["name"], g.settings.Vals)
			}

			// Alpha: active; join order kept; only the one who left has leftAt.
			if !a.obj.boolean(t, "isActive") || string(a.obj.Vals["endedAt"]) != "null" {
				t.Errorf("Alpha: isActive %s endedAt %s, want true null", a.obj.Vals["isActive"], a.obj.Vals["endedAt"])
			}
			if got, want := restParticipantIDs(t, a), []string{alphaHost, alphaOther, alphaGuest}; !slices.Equal(got, want) {
				t.Fatalf("Alpha participants %v, want join order %v", got, want)
			}
			for i, p := range a.participants {
				_, hasLeft := p.Vals["leftAt"]
				if wantLeft := i == 1; hasLeft != wantLeft || p.boolean(t, "isActive") == wantLeft {
					t.Errorf("Alpha participant %d: isActive %s, leftAt present %v; want left=%v", i, p.Vals["isActive"], hasLeft, wantLeft)
				}
				if p.boolean(t, "isHost") != (i == 0) {
					t.Errorf("Alpha participant %d: isHost %s", i, p.Vals["isHost"])
				}
				if hasLeft && p.str(t, "leftAt") < p.str(t, "joinedAt") {
					t.Errorf("Alpha participant %d left (%s) before joining (%s)", i, p.str(t, "leftAt"), p.str(t, "joinedAt"))
				}
			}
			if a.participants[0].str(t, "joinedAt") >= a.participants[1].str(t, "joinedAt") ||
				a.participants[1].str(t, "joinedAt") >= a.participants[2].str(t, "joinedAt") {
				t.Errorf("Alpha joinedAt not ascending")
			}

			// Beta: ended; everyone left at the end; settings as created.
			if b.obj.boolean(t, "isActive") || b.obj.str(t, "endedAt") != ended.EndRoom.EndedAt {
				t.Errorf("Beta: isActive %s endedAt %s, want false %s", b.obj.Vals["isActive"], b.obj.Vals["endedAt"], ended.EndRoom.EndedAt)
			}
			if got, want := restParticipantIDs(t, b), []string{betaHost, betaGuest}; !slices.Equal(got, want) {
				t.Fatalf("Beta participants %v, want %v", got, want)
			}
			for i, p := range b.participants {
				if _, has := p.Vals["leftAt"]; !has || p.str(t, "leftAt") != ended.EndRoom.EndedAt || p.boolean(t, "isActive") {
					t.Errorf("Beta participant %d: isActive %s leftAt %s, want false and the end time %s", i, p.Vals["isActive"], p.Vals["leftAt"], ended.EndRoom.EndedAt)
				}
			}
			if string(b.settings.Vals["maxParticipants"]) != "10" || !b.settings.boolean(t, "waitingRoom") || b.settings.boolean(t, "allowChat") {
				t.Errorf("Beta settings %v, want maxParticipants 10, waitingRoom true, allowChat false", b.settings.Vals)
			}
		}

		// REST and GraphQL list the same rooms in the same order.
		res := srv.gql(host.Token, `{ me { rooms { id } } }`, nil)
		var me struct {
			Me struct{ Rooms []struct{ ID string } }
		}
		res.decode(t, &me)
		var gqlIDs []string
		for _, r := range me.Me.Rooms {
			gqlIDs = append(gqlIDs, r.ID)
		}
		if restIDs := restRoomIDs(t, restGetRooms(t, srv, "", host.Token)); !slices.Equal(gqlIDs, restIDs) {
			t.Errorf("GraphQL me.rooms %v, REST %v", gqlIDs, restIDs)
		}

		// The other user sees only their own room, with them absent from
		// its participants (they joined nothing there).
		if ids := restRoomIDs(t, restGetRooms(t, srv, "/api", other.Token)); !slices.Equal(ids, []string{othersRoom.ID}) {
			t.Errorf("the other user's rooms %v, want only %s", ids, othersRoom.ID)
		}
	})
}

// Ordering follows the timestamps, not the ids: rooms and participants
// seeded with ids that sort against their creation and join times still
// come back newest room first and earliest joiner first, with millisecond
// timestamps kept exactly on both dialects.
func TestUsersMeRooms_OrdersByTimestampsNotIDs(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		host := srv.register("host@example.com", "Host")
		ts := func(s string) time.Time { return restTime(t, s) }
		const roomSQL = `INSERT INTO rooms (id, code, name, host_id, is_active, is_locked, started_at, ended_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		const settingsSQL = `INSERT INTO room_settings (id, room_id, allow_chat, allow_screen_share, allow_guest_access, waiting_room, mute_participants_on_join, max_participants) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
		// Ids ascend while createdAt descends; the two latest rooms are a
		// millisecond apart, the oldest a year earlier.
		rooms := []struct{ id, code, created string }{
			{"caaaaaaaaaaaaaaaaaaaaaaaa", "aaa-aaa-aaa", "2024-05-01T12:00:00.002Z"},
			{"cmmmmmmmmmmmmmmmmmmmmmmmm", "mmm-mmm-mmm", "2024-05-01T12:00:00.001Z"},
			{"czzzzzzzzzzzzzzzzzzzzzzzz", "zzz-zzz-zzz", "2023-05-01T12:00:00.000Z"},
		}
		for i, r := range slices.Backward(rooms) {
			created := ts(r.created)
			dbtest.Exec(t, bdb, roomSQL, r.id, r.code, "Room "+r.code, host.ID, true, false, &created, (*time.Time)(nil), created, created)
			dbtest.Exec(t, bdb, settingsSQL, fmt.Sprintf("csettings%016d", i), r.id, true, true, true, false, false, 50)
		}
		// Participants of the newest room: ids descend while joinedAt
		// ascends, a millisecond apart.
		parts := []struct{ id, joined string }{
			{"czzzzzzzzzzzzzzzzzzzzzzzp", "2024-05-01T12:00:01.007Z"},
			{"cmmmmmmmmmmmmmmmmmmmmmmmp", "2024-05-01T12:00:01.008Z"},
			{"caaaaaaaaaaaaaaaaaaaaaaap", "2024-05-01T12:00:01.009Z"},
		}
		for i, p := range slices.Backward(parts) {
			guest := fmt.Sprintf("Guest %d", i)
			dbtest.Exec(t, bdb, `INSERT INTO participants (id, room_id, user_id, guest_name, is_active, is_host, joined_at, left_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				p.id, rooms[0].id, (*string)(nil), &guest, true, false, ts(p.joined), (*time.Time)(nil))
		}

		got := restGetRooms(t, srv, "", host.Token)
		if ids := restRoomIDs(t, got); !slices.Equal(ids, []string{rooms[0].id, rooms[1].id, rooms[2].id}) {
			t.Fatalf("room ids %v, want newest createdAt first %v", ids, []string{rooms[0].id, rooms[1].id, rooms[2].id})
		}
		for i, r := range got {
			if c := r.obj.str(t, "createdAt"); c != rooms[i].created {
				t.Errorf("room %d createdAt %s, want %s", i, c, rooms[i].created)
			}
		}
		if ids := restParticipantIDs(t, got[0]); !slices.Equal(ids, []string{parts[0].id, parts[1].id, parts[2].id}) {
			t.Fatalf("participant ids %v, want earliest joinedAt first %v", ids, []string{parts[0].id, parts[1].id, parts[2].id})
		}
		for i, p := range got[0].participants {
			if j := p.str(t, "joinedAt"); j != parts[i].joined {
				t.Errorf("participant %d joinedAt %s, want %s", i, j, parts[i].joined)
			}
		}
	})
}
