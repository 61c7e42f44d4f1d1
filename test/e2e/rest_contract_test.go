package e2e

// The REST contract legacy clients were built against (testdata/contract):
// GET /users/me/rooms byte for byte, the 401 every protected route gives,
// register and login with their tokens, and the order rooms and
// participants come in. Every test runs on SQLite and PostgreSQL, on both
// mounts (bare and /api).

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// --- Hand-made JWTs, independent of this project's auth package ---------

var b64 = base64.RawURLEncoding

// signJWT builds a compact JWS from a raw header and payload, signed with
// HMAC over newHash (nil leaves the signature empty, as alg=none does).
func signJWT(secret []byte, newHash func() hash.Hash, header, payload string) string {
	signingInput := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	if newHash == nil {
		return signingInput + "."
	}
	mac := hmac.New(newHash, secret)
	mac.Write([]byte(signingInput))
	return signingInput + "." + b64.EncodeToString(mac.Sum(nil))
}

const hs256Header = `{"alg":"HS256","typ":"JWT"}`

// legacyClaims is the payload the legacy NestJS service signed
// (JwtService.sign({sub, email}) adds iat, then exp), in its key order.
type legacyClaims struct {
	Sub   string `json:"sub"`
	Email string `json:"email"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

// legacyToken signs a token the way the legacy service did: HS256 over
// {"sub","email","iat","exp"} with the shared secret.
func legacyToken(sub, email string, iat, exp time.Time) string {
	payload := harness.JSON(legacyClaims{Sub: sub, Email: email, Iat: iat.Unix(), Exp: exp.Unix()})
	return signJWT([]byte(harness.Secret), sha256.New, hs256Header, payload)
}

// verifyHS256 checks by hand that token is an HS256 JWT signed with
// secret and returns its header and claims.
func verifyHS256(t testing.TB, token string, secret []byte) (header map[string]any, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", token)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		t.Fatalf("token signature is not HMAC-SHA256 with the shared secret")
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := b64.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("token part %d is not base64url: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("token part %d is not JSON: %v", i, err)
		}
	}
	return header, claims
}

// --- Fixtures ------------------------------------------------------------

func parseTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UTC()
}

// The documented example's host.
const exampleHostID = "clh3x1k5g0000l408xyz11111"

const (
	insertRoom     = `INSERT INTO rooms (id, code, name, host_id, is_active, is_locked, started_at, ended_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertSettings = `INSERT INTO room_settings (id, room_id, allow_chat, allow_screen_share, allow_guest_access, waiting_room, mute_participants_on_join, max_participants) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	insertPart     = `INSERT INTO participants (id, room_id, user_id, guest_name, is_active, is_host, joined_at, left_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
)

// seedContractExample inserts exactly the rows behind
// users-me-rooms.example.json, timestamps bound as UTC time.Time values so
// each dialect stores them as the app's own writes do.
func seedContractExample(t testing.TB, bdb *bun.DB) {
	t.Helper()
	ts := func(s string) time.Time { return parseTime(t, s) }
	dbtest.Exec(t, bdb, `INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		exampleHostID, "host@example.com", "$2a$04$notarealhashnotarealhashnotarealhashnotarealhashnotr", "Example Host",
		ts("2024-01-15T08:00:00.000Z"), ts("2024-01-15T08:00:00.000Z"))

	ended := ts("2024-03-02T15:30:00.000Z")
	dbtest.Exec(t, bdb, insertRoom, "clh3x2k5g0001l408xyz12345", "abc-def-ghi", "Team Standup", exampleHostID, true, false,
		ts("2024-03-03T10:00:00.000Z"), (*time.Time)(nil), ts("2024-03-03T09:55:00.000Z"), ts("2024-03-03T10:00:00.000Z"))
	dbtest.Exec(t, bdb, insertRoom, "clh3x5k5g0004l408xyz44444", "jkl-mno-pqr", "Client Presentation", exampleHostID, false, false,
		ts("2024-03-02T14:00:00.000Z"), &ended, ts("2024-03-02T13:55:00.000Z"), ts("2024-03-02T15:30:00.000Z"))

	dbtest.Exec(t, bdb, insertSettings, "clh3x2k5g0101l408xyzset01", "clh3x2k5g0001l408xyz12345", true, true, true, false, false, 100)
	dbtest.Exec(t, bdb, insertSettings, "clh3x5k5g0104l408xyzset04", "clh3x5k5g0004l408xyz44444", true, true, false, true, true, 50)

	host := exampleHostID
	guest := "Client Guest"
	noTime := (*time.Time)(nil)
	noStr := (*string)(nil)
	dbtest.Exec(t, bdb, insertPart, "clh3x3k5g0002l408xyz22222", "clh3x2k5g0001l408xyz12345", &host, noStr, true, true,
		ts("2024-03-03T10:00:00.000Z"), noTime)
	dbtest.Exec(t, bdb, insertPart, "clh3x4k5g0003l408xyz33333", "clh3x2k5g0001l408xyz12345", noStr, &guest, true, false,
		ts("2024-03-03T10:02:00.000Z"), noTime)
	dbtest.Exec(t, bdb, insertPart, "clh3x6k5g0005l408xyz55555", "clh3x5k5g0004l408xyz44444", &host, noStr, false, true,
		ts("2024-03-02T14:00:00.000Z"), &ended)
}

// --- The golden contract test ----------------------------------------------

// Seeding exactly the documented example's rows and calling the endpoint
// with a token signed the way the legacy service signs them returns the
// documented example, byte for byte once its whitespace is removed.
func TestUsersMeRooms_MatchesContractExample(t *testing.T) {
	want := contractJSON(t, "users-me-rooms.example.json")
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		seedContractExample(t, bdb)
		now := time.Now()
		host := srv.WithToken(legacyToken(exampleHostID, "host@example.com", now, now.Add(time.Hour)))
		for _, prefix := range restPrefixes {
			path := prefix + "/users/me/rooms"
			res := host.REST(http.MethodGet, path, nil)
			if res.Status != http.StatusOK {
				t.Fatalf("GET %s: HTTP %d %s, want 200", path, res.Status, res.Body)
			}
			expectJSONContentType(t, "GET "+path, res)
			if !bytes.Equal(res.Body, want) {
				t.Errorf("GET %s body differs from the contract example\n got: %s\nwant: %s", path, res.Body, want)
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

// --- Unauthorized ------------------------------------------------------------

// Every way of not presenting a valid user token gets the contract's exact
// 401 body and a WWW-Authenticate: Bearer challenge, on both mounts. A
// valid hand-made token for the same user gets 200 first, so each case
// fails for its one defect only.
func TestUsersMeRooms_Unauthorized(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		user := srv.Register("user@example.com", "User")
		gone := srv.Register("gone@example.com", "Gone")
		room := srv.WithToken(user.Token).CreateRoom(map[string]any{"name": "Guests welcome"})
		guestJoin, res := srv.Join(room.Code, new("Guest"))
		if res.Code() != "" {
			t.Fatalf("guest join: %+v", res.Errors)
		}

		now := time.Now()
		iat, exp := now.Unix(), now.Add(time.Hour).Unix()
		claims := func(m map[string]any) string { return harness.JSON(m) }
		valid := legacyToken(user.ID, user.Email, now, now.Add(time.Hour))
		goneToken := legacyToken(gone.ID, gone.Email, now, now.Add(time.Hour))
		for _, tok := range []string{valid, goneToken} {
			if res := srv.WithToken(tok).REST(http.MethodGet, "/users/me/rooms", nil); res.Status != http.StatusOK {
				t.Fatalf("control: a valid hand-made token gets HTTP %d %s, want 200", res.Status, res.Body)
			}
		}
		dbtest.Exec(t, bdb, `DELETE FROM users WHERE id = ?`, gone.ID)

		// valid with another user's sub but the original signature.
		parts := strings.Split(valid, ".")
		tampered := parts[0] + "." + b64.EncodeToString([]byte(claims(map[string]any{"sub": gone.ID, "email": user.Email, "iat": iat, "exp": exp}))) + "." + parts[2]

		cases := []struct {
			name   string
			header string // Authorization; "" sends none
		}{
			{"no Authorization header", ""},
			{"garbage bearer token", "Bearer garbage"},
			{"empty bearer token", "Bearer "},
			{"bare scheme", "Bearer"},
			{"signed with another secret", "Bearer " + signJWT([]byte("some-other-secret-of-32-bytes-long!"), sha256.New, hs256Header,
				claims(map[string]any{"sub": user.ID, "email": user.Email, "iat": iat, "exp": exp}))},
			{"expired", "Bearer " + legacyToken(user.ID, user.Email, now.Add(-2*time.Hour), now.Add(-time.Hour))},
			{"alg none", "Bearer " + signJWT(nil, nil, `{"alg":"none","typ":"JWT"}`,
				claims(map[string]any{"sub": user.ID, "email": user.Email, "iat": iat, "exp": exp}))},
			{"alg HS384 with the right secret", "Bearer " + signJWT([]byte(harness.Secret), sha512.New384, `{"alg":"HS384","typ":"JWT"}`,
				claims(map[string]any{"sub": user.ID, "email": user.Email, "iat": iat, "exp": exp}))},
			{"no exp", "Bearer " + signJWT([]byte(harness.Secret), sha256.New, hs256Header,
				claims(map[string]any{"sub": user.ID, "email": user.Email, "iat": iat}))},
			{"no sub", "Bearer " + signJWT([]byte(harness.Secret), sha256.New, hs256Header,
				claims(map[string]any{"email": user.Email, "iat": iat, "exp": exp}))},
			{"empty sub", "Bearer " + signJWT([]byte(harness.Secret), sha256.New, hs256Header,
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
				var opts []harness.RequestOption
				if c.header != "" {
					opts = append(opts, harness.Header("Authorization", c.header))
				}
				expectUnauthorized(t, c.name+", GET "+path, srv.REST(http.MethodGet, path, nil, opts...))
			}
		}
	})
}

// A failed REST login is a 401 with a Bearer challenge, its legacy body
// unchanged; so is a protected route without a token.
func TestREST_Every401Challenges(t *testing.T) {
	srv := harness.Start(t)
	res := srv.REST(http.MethodPost, "/auth/login", map[string]string{"email": "nobody@example.com", "password": "wrong-password"})
	if res.Status != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") != "Bearer" ||
		string(res.Body) != `{"message":"Invalid credentials","error":"Unauthorized","statusCode":401}` {
		t.Errorf("failed login: HTTP %d, WWW-Authenticate %q, body %s", res.Status, res.Header.Get("WWW-Authenticate"), res.Body)
	}
	expectUnauthorized(t, "no token", srv.REST(http.MethodGet, "/users/me/rooms", nil))
}

// --- Register and login -------------------------------------------------------

// checkAuthResponse checks a 201 {"user":{...},"accessToken":...} body
// and returns the user object and the token.
func checkAuthResponse(t testing.TB, what string, res harness.Response, wantEmail, wantDisplayName string) (harness.Object, string) {
	t.Helper()
	if res.Status != http.StatusCreated {
		t.Fatalf("%s: HTTP %d %s, want 201", what, res.Status, res.Body)
	}
	expectJSONContentType(t, what, res)
	top := harness.ParseObject(t, res.Body)
	expectKeys(t, what+" body", top, "user", "accessToken")
	user := harness.ParseObject(t, top.Vals["user"])
	expectKeys(t, what+" user", user, "id", "email", "name", "displayName", "avatarUrl", "createdAt")
	if id := user.Str(t, "id"); !cuidRE.MatchString(id) {
		t.Errorf("%s: user id %q is not a cuid", what, id)
	}
	if got := user.Str(t, "email"); got != wantEmail {
		t.Errorf("%s: email = %q, want %q", what, got, wantEmail)
	}
	if got := user.Str(t, "displayName"); got != wantDisplayName {
		t.Errorf("%s: displayName = %q, want %q", what, got, wantDisplayName)
	}
	for _, k := range []string{"name", "avatarUrl"} {
		if string(user.Vals[k]) != "null" {
			t.Errorf("%s: %s = %s, want null for a new account", what, k, user.Vals[k])
		}
	}
	created := user.Str(t, "createdAt")
	if !timeRE.MatchString(created) {
		t.Errorf("%s: createdAt %q is not YYYY-MM-DDTHH:MM:SS.mmmZ", what, created)
	} else if d := time.Since(parseTime(t, created)); d < -time.Minute || d > time.Minute {
		t.Errorf("%s: createdAt %s is not now", what, created)
	}
	token := top.Str(t, "accessToken")
	// Legacy clients verify and read these tokens with their own HS256
	// code: check the signature and claims by hand.
	header, claims := verifyHS256(t, token, []byte(harness.Secret))
	if header["alg"] != "HS256" {
		t.Errorf("%s: token alg = %v, want HS256", what, header["alg"])
	}
	if claims["sub"] != user.Str(t, "id") || claims["email"] != wantEmail {
		t.Errorf("%s: token claims %v, want sub=%s email=%s", what, claims, user.Str(t, "id"), wantEmail)
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

// Register and login answer 201 with the legacy body in its key order, on
// both mounts; the token they return works on the protected route.
func TestRESTAuth_RegisterAndLogin(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		// expectNoRooms checks token signs its user in on GET
		// /users/me/rooms and that they host nothing yet.
		expectNoRooms := func(prefix, token string) {
			t.Helper()
			if body, _ := getMyRooms(t, srv.WithToken(token), prefix+"/users/me/rooms"); string(body) != "[]" {
				t.Fatalf("GET %s/users/me/rooms with the new token: %s, want []", prefix, body)
			}
		}
		for i, prefix := range restPrefixes {
			email := fmt.Sprintf("new.user%d@example.com", i)
			before := harness.CountRows(t, bdb, "users")
			res := srv.REST(http.MethodPost, prefix+"/auth/register", map[string]any{
				"email": "  " + strings.ToUpper(email) + " ", "password": harness.Password, "displayName": "  New User ",
			})
			regUser, regToken := checkAuthResponse(t, "POST "+prefix+"/auth/register", res, email, "New User")
			if n := harness.CountRows(t, bdb, "users"); n != before+1 {
				t.Fatalf("register added %d users, want 1", n-before)
			}
			expectNoRooms(prefix, regToken)

			users := dbtest.DumpTables(t, bdb, "users")
			res = srv.REST(http.MethodPost, prefix+"/auth/login", map[string]any{"email": " " + strings.ToUpper(email), "password": harness.Password})
			loginUser, loginToken := checkAuthResponse(t, "POST "+prefix+"/auth/login", res, email, "New User")
			if !slices.Equal(loginUser.Keys, regUser.Keys) {
				t.Fatalf("login user keys %v differ from register's %v", loginUser.Keys, regUser.Keys)
			}
			for _, k := range regUser.Keys {
				if !bytes.Equal(loginUser.Vals[k], regUser.Vals[k]) {
					t.Errorf("login user %s = %s, register said %s", k, loginUser.Vals[k], regUser.Vals[k])
				}
			}
			expectNoRooms(prefix, loginToken)
			if dbtest.DumpTables(t, bdb, "users") != users {
				t.Errorf("login changed the users table")
			}
		}
	})
}

// A second registration of an email, in any case and padding, is 409 with
// the legacy body; the first account keeps its password.
func TestRESTAuth_DuplicateEmailConflict(t *testing.T) {
	const want = `{"message":"Email already registered","error":"Conflict","statusCode":409}`
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		if res := srv.REST(http.MethodPost, "/auth/register", map[string]any{"email": "alice@example.com", "password": "first-password", "displayName": "Alice"}); res.Status != http.StatusCreated {
			t.Fatalf("register: HTTP %d %s", res.Status, res.Body)
		}
		for _, prefix := range restPrefixes {
			for _, email := range []string{"alice@example.com", " ALICE@Example.com "} {
				users := dbtest.DumpTables(t, bdb, "users")
				path := prefix + "/auth/register"
				res := srv.REST(http.MethodPost, path, map[string]any{"email": email, "password": "second-password", "displayName": "Impostor"})
				if res.Status != http.StatusConflict || string(res.Body) != want {
					t.Errorf("POST %s %q again: HTTP %d %s, want 409 %s", path, email, res.Status, res.Body, want)
				}
				expectJSONContentType(t, "POST "+path, res)
				if dbtest.DumpTables(t, bdb, "users") != users {
					t.Errorf("a rejected registration changed the users table")
				}
			}
		}
		if res := srv.REST(http.MethodPost, "/auth/login", map[string]any{"email": "alice@example.com", "password": "first-password"}); res.Status != http.StatusCreated {
			t.Errorf("the first account's password stopped working: HTTP %d %s", res.Status, res.Body)
		}
		if res := srv.REST(http.MethodPost, "/auth/login", map[string]any{"email": "alice@example.com", "password": "second-password"}); res.Status != http.StatusUnauthorized {
			t.Errorf("the rejected registration's password signs in: HTTP %d", res.Status)
		}
	})
}

// A wrong password and an unknown email get the same legacy 401 and change
// nothing.
func TestRESTAuth_InvalidCredentials(t *testing.T) {
	const want = `{"message":"Invalid credentials","error":"Unauthorized","statusCode":401}`
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		srv.Register("bob@example.com", "Bob")
		cases := map[string]map[string]any{
			"wrong password":          {"email": "bob@example.com", "password": "wrong-horse"},
			"password in other case":  {"email": "bob@example.com", "password": "CORRECT-HORSE"},
			"password with a space":   {"email": "bob@example.com", "password": "correct-horse "},
			"unknown email":           {"email": "nobody@example.com", "password": harness.Password},
			"unknown email, long pwd": {"email": "nobody@example.com", "password": strings.Repeat("x", 80)},
		}
		for _, prefix := range restPrefixes {
			path := prefix + "/auth/login"
			for name, body := range cases {
				users := dbtest.DumpTables(t, bdb, "users")
				res := srv.REST(http.MethodPost, path, body)
				if res.Status != http.StatusUnauthorized || string(res.Body) != want {
					t.Errorf("%s, POST %s: HTTP %d %s, want 401 %s", name, path, res.Status, res.Body, want)
				}
				expectJSONContentType(t, name, res)
				if dbtest.DumpTables(t, bdb, "users") != users {
					t.Errorf("%s: a failed login changed the users table", name)
				}
			}
			// Control: the account exists and its password works.
			if res := srv.REST(http.MethodPost, path, map[string]any{"email": "bob@example.com", "password": harness.Password}); res.Status != http.StatusCreated {
				t.Fatalf("control login: HTTP %d %s", res.Status, res.Body)
			}
		}
	})
}

// --- Ordering and the participant lifecycle --------------------------------

// Rooms built through GraphQL come back newest first with their
// participants in join order; leftAt appears only once someone has left;
// endedAt is null while the room is active; only the caller's rooms show.
func TestUsersMeRooms_OrderAndParticipantLifecycle(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostUser := srv.Register("host@example.com", "Host")
		otherUser := srv.Register("other@example.com", "Other")
		host, other := srv.WithToken(hostUser.Token), srv.WithToken(otherUser.Token)

		if _, rooms := getMyRooms(t, host, "/users/me/rooms"); len(rooms) != 0 {
			t.Fatalf("a new host has %d rooms", len(rooms))
		}

		alpha := host.CreateRoom(map[string]any{"name": "Alpha"})
		srv.Pause()
		beta := host.CreateRoom(map[string]any{"name": "Beta", "maxParticipants": 10, "waitingRoom": true, "allowChat": false})
		srv.Pause()
		gamma := host.CreateRoom(map[string]any{"name": "Gamma"})
		othersRoom := other.CreateRoom(map[string]any{"name": "Not the host's"})

		mustJoin := func(c *harness.Client, code string, guest *string) string {
			t.Helper()
			j, res := c.Join(code, guest)
			if res.Code() != "" {
				t.Fatalf("join %s: %+v", code, res.Errors)
			}
			srv.Pause()
			return j.ParticipantID
		}
		// Alpha: the host, then the other user, then a guest; the other
		// user leaves.
		alphaHost := mustJoin(host, alpha.Code, nil)
		alphaOther := mustJoin(other, alpha.Code, nil)
		alphaGuest := mustJoin(srv.Client, alpha.Code, new("Gus"))

		_, before := getMyRooms(t, host, "/users/me/rooms")
		if len(before) != 3 {
			t.Fatalf("host has %d rooms, want 3", len(before))
		}
		if got := ids(t, before[2].participants); !slices.Equal(got, []string{alphaHost, alphaOther, alphaGuest}) {
			t.Fatalf("Alpha participants %v, want join order %v", got, []string{alphaHost, alphaOther, alphaGuest})
		}
		for _, p := range before[2].participants {
			if _, has := p.Vals["leftAt"]; has || !p.Bool(t, "isActive") {
				t.Fatalf("participant %s has left before anyone left: %v", p.Str(t, "id"), p.Keys)
			}
		}

		other.GQL(`mutation($id: ID!) { leaveRoom(participantId: $id) { id leftAt } }`, map[string]any{"id": alphaOther}).Decode(t, new(any))
		srv.Pause()

		// Beta: the host and a guest join; the host ends it.
		betaHost := mustJoin(host, beta.Code, nil)
		betaGuest := mustJoin(srv.Client, beta.Code, new("Gwen"))
		var ended struct{ EndRoom struct{ EndedAt string } }
		host.GQL(`mutation($id: ID!) { endRoom(roomId: $id) { endedAt } }`, map[string]any{"id": beta.ID}).Decode(t, &ended)

		for _, prefix := range restPrefixes {
			_, rooms := getMyRooms(t, host, prefix+"/users/me/rooms")
			if got, want := roomIDs(t, rooms), []string{gamma.ID, beta.ID, alpha.ID}; !slices.Equal(got, want) {
				t.Fatalf("GET %s/users/me/rooms ids %v, want newest first %v (and never another host's room %s)", prefix, got, want, othersRoom.ID)
			}
			for i := 1; i < len(rooms); i++ {
				if prev, cur := rooms[i-1].obj.Str(t, "createdAt"), rooms[i].obj.Str(t, "createdAt"); cur >= prev {
					t.Errorf("room %d createdAt %s is not older than room %d's %s", i, cur, i-1, prev)
				}
			}
			g, b, a := rooms[0], rooms[1], rooms[2]
			for _, r := range rooms {
				if r.obj.Str(t, "hostId") != hostUser.ID {
					t.Errorf("room %s hostId %s, want %s", r.obj.Str(t, "id"), r.obj.Str(t, "hostId"), hostUser.ID)
				}
			}

			// Gamma: active, nobody joined: endedAt null, participants [].
			if !g.obj.Bool(t, "isActive") || string(g.obj.Vals["endedAt"]) != "null" || string(g.obj.Vals["participants"]) != "[]" {
				t.Errorf("Gamma: isActive %s endedAt %s participants %s, want true null []",
					g.obj.Vals["isActive"], g.obj.Vals["endedAt"], g.obj.Vals["participants"])
			}
			if g.obj.Str(t, "name") != "Gamma" || string(g.settings.Vals["maxParticipants"]) != "50" {
				t.Errorf("Gamma: name %s settings %v", g.obj.Vals["name"], g.settings.Vals)
			}

			// Alpha: active; join order kept; only the one who left has leftAt.
			if !a.obj.Bool(t, "isActive") || string(a.obj.Vals["endedAt"]) != "null" {
				t.Errorf("Alpha: isActive %s endedAt %s, want true null", a.obj.Vals["isActive"], a.obj.Vals["endedAt"])
			}
			if got, want := ids(t, a.participants), []string{alphaHost, alphaOther, alphaGuest}; !slices.Equal(got, want) {
				t.Fatalf("Alpha participants %v, want join order %v", got, want)
			}
			for i, p := range a.participants {
				_, hasLeft := p.Vals["leftAt"]
				if wantLeft := i == 1; hasLeft != wantLeft || p.Bool(t, "isActive") == wantLeft {
					t.Errorf("Alpha participant %d: isActive %s, leftAt present %v; want left=%v", i, p.Vals["isActive"], hasLeft, wantLeft)
				}
				if p.Bool(t, "isHost") != (i == 0) {
					t.Errorf("Alpha participant %d: isHost %s", i, p.Vals["isHost"])
				}
				if hasLeft && p.Str(t, "leftAt") < p.Str(t, "joinedAt") {
					t.Errorf("Alpha participant %d left (%s) before joining (%s)", i, p.Str(t, "leftAt"), p.Str(t, "joinedAt"))
				}
			}
			if a.participants[0].Str(t, "joinedAt") >= a.participants[1].Str(t, "joinedAt") ||
				a.participants[1].Str(t, "joinedAt") >= a.participants[2].Str(t, "joinedAt") {
				t.Errorf("Alpha joinedAt not ascending")
			}

			// Beta: ended; everyone left at the end; settings as created.
			if b.obj.Bool(t, "isActive") || b.obj.Str(t, "endedAt") != ended.EndRoom.EndedAt {
				t.Errorf("Beta: isActive %s endedAt %s, want false %s", b.obj.Vals["isActive"], b.obj.Vals["endedAt"], ended.EndRoom.EndedAt)
			}
			if got, want := ids(t, b.participants), []string{betaHost, betaGuest}; !slices.Equal(got, want) {
				t.Fatalf("Beta participants %v, want %v", got, want)
			}
			for i, p := range b.participants {
				if _, has := p.Vals["leftAt"]; !has || p.Str(t, "leftAt") != ended.EndRoom.EndedAt || p.Bool(t, "isActive") {
					t.Errorf("Beta participant %d: isActive %s leftAt %s, want false and the end time %s", i, p.Vals["isActive"], p.Vals["leftAt"], ended.EndRoom.EndedAt)
				}
			}
			if string(b.settings.Vals["maxParticipants"]) != "10" || !b.settings.Bool(t, "waitingRoom") || b.settings.Bool(t, "allowChat") {
				t.Errorf("Beta settings %v, want maxParticipants 10, waitingRoom true, allowChat false", b.settings.Vals)
			}
		}

		// REST and GraphQL list the same rooms in the same order.
		var me struct {
			Me struct{ Rooms []struct{ ID string } }
		}
		host.GQL(`{ me { rooms { id } } }`, nil).Decode(t, &me)
		var gqlIDs []string
		for _, r := range me.Me.Rooms {
			gqlIDs = append(gqlIDs, r.ID)
		}
		if _, rooms := getMyRooms(t, host, "/users/me/rooms"); !slices.Equal(gqlIDs, roomIDs(t, rooms)) {
			t.Errorf("GraphQL me.rooms %v, REST %v", gqlIDs, roomIDs(t, rooms))
		}

		// The other user sees only their own room, with them absent from
		// its participants (they joined nothing there).
		if _, rooms := getMyRooms(t, other, "/api/users/me/rooms"); !slices.Equal(roomIDs(t, rooms), []string{othersRoom.ID}) {
			t.Errorf("the other user's rooms %v, want only %s", roomIDs(t, rooms), othersRoom.ID)
		}
	})
}

// Ordering follows the timestamps, not the ids: rooms and participants
// seeded with ids that sort against their creation and join times still
// come back newest room first and earliest joiner first, with millisecond
// timestamps kept exactly on both dialects.
func TestUsersMeRooms_OrdersByTimestampsNotIDs(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host := srv.Register("host@example.com", "Host")
		ts := func(s string) time.Time { return parseTime(t, s) }
		// Ids ascend while createdAt descends; the two latest rooms are a
		// millisecond apart, the oldest a year earlier.
		rooms := []struct{ id, code, created string }{
			{"caaaaaaaaaaaaaaaaaaaaaaaa", "aaa-aaa-aaa", "2024-05-01T12:00:00.002Z"},
			{"cmmmmmmmmmmmmmmmmmmmmmmmm", "mmm-mmm-mmm", "2024-05-01T12:00:00.001Z"},
			{"czzzzzzzzzzzzzzzzzzzzzzzz", "zzz-zzz-zzz", "2023-05-01T12:00:00.000Z"},
		}
		for i, r := range slices.Backward(rooms) {
			created := ts(r.created)
			dbtest.Exec(t, bdb, insertRoom, r.id, r.code, "Room "+r.code, host.ID, true, false, &created, (*time.Time)(nil), created, created)
			dbtest.Exec(t, bdb, insertSettings, fmt.Sprintf("csettings%016d", i), r.id, true, true, true, false, false, 50)
		}
		// Participants of the newest room: ids descend while joinedAt
		// ascends, a millisecond apart.
		parts := []struct{ id, joined string }{
			{"czzzzzzzzzzzzzzzzzzzzzzzp", "2024-05-01T12:00:01.007Z"},
			{"cmmmmmmmmmmmmmmmmmmmmmmmp", "2024-05-01T12:00:01.008Z"},
			{"caaaaaaaaaaaaaaaaaaaaaaap", "2024-05-01T12:00:01.009Z"},
		}
		for i, p := range slices.Backward(parts) {
			dbtest.Exec(t, bdb, insertPart, p.id, rooms[0].id, (*string)(nil), new(fmt.Sprintf("Guest %d", i)), true, false, ts(p.joined), (*time.Time)(nil))
		}

		_, got := getMyRooms(t, srv.WithToken(host.Token), "/users/me/rooms")
		if rids := roomIDs(t, got); !slices.Equal(rids, []string{rooms[0].id, rooms[1].id, rooms[2].id}) {
			t.Fatalf("room ids %v, want newest createdAt first %v", rids, []string{rooms[0].id, rooms[1].id, rooms[2].id})
		}
		for i, r := range got {
			if c := r.obj.Str(t, "createdAt"); c != rooms[i].created {
				t.Errorf("room %d createdAt %s, want %s", i, c, rooms[i].created)
			}
		}
		if pids := ids(t, got[0].participants); !slices.Equal(pids, []string{parts[0].id, parts[1].id, parts[2].id}) {
			t.Fatalf("participant ids %v, want earliest joinedAt first %v", pids, []string{parts[0].id, parts[1].id, parts[2].id})
		}
		for i, p := range got[0].participants {
			if j := p.Str(t, "joinedAt"); j != parts[i].joined {
				t.Errorf("participant %d joinedAt %s, want %s", i, j, parts[i].joined)
			}
		}
	})
}
