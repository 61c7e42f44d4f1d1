package e2e

// Request bodies are taken as JSON says them, on both edges: only a JSON
// content type (REST; /query has always required one), one value with
// nothing after it, each key once, and keys spelt exactly. What a browser
// can send cross-site without a preflight (text/plain, forms, multipart)
// never reaches a REST route, and what a lenient parser would read one way
// and we another is refused rather than guessed at. Every refusal changes
// nothing.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// The content types a cross-site page can POST without a preflight, and
// others that are not JSON, are refused 415 by every REST route that takes
// a body, before it is read.
func TestStrictBodies_RESTTakesOnlyJSON(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host := srv.Register("host@example.com", "Host")
		hostC := srv.WithToken(host.Token)
		room := hostC.CreateRoom(map[string]any{"name": "Standup"})
		guest := "Guest"
		joined, res := srv.Join(room.Code, &guest)
		harness.MustSucceed(t, "a guest joins", res)
		before := snapshot(t, srv, host.Token)

		routes := []struct {
			name, method, path, body string
			token                    string
		}{
			{"register", http.MethodPost, "/auth/register", `{"email":"csrf@example.com","password":"correct-horse","displayName":"Csrf"}`, ""},
			{"login", http.MethodPost, "/auth/login", `{"email":"host@example.com","password":"correct-horse"}`, ""},
			{"join", http.MethodPost, "/rooms/" + room.Code + "/join", `{"guestName":"Csrf"}`, ""},
			{"join, no body", http.MethodPost, "/rooms/" + room.Code + "/join", ``, host.Token},
			{"create a room", http.MethodPost, "/rooms", `{"name":"Sneaky"}`, host.Token},
			{"change settings", http.MethodPatch, "/rooms/" + room.ID + "/settings", `{"isLocked":true}`, host.Token},
			{"edit the profile", http.MethodPatch, "/users/me", `{"displayName":"Hijacked"}`, host.Token},
			{"leave", http.MethodPost, "/rooms/participants/" + joined.ParticipantID + "/leave", `{}`, host.Token},
		}
		contentTypes := []string{
			"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
			"multipart/form-data; boundary=x", "application/xml", "application/json-patch+json",
			"application/json; charset=latin1", "not a media type",
		}
		want415 := legacyError(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		for _, route := range routes {
			for _, prefix := range restPrefixes {
				c := srv.WithToken(route.token)
				for _, ct := range contentTypes {
					what := route.name + " as " + ct + " at " + prefix + route.path
					res := c.REST(route.method, prefix+route.path, nil, harness.RawBody(route.body), harness.Header("Content-Type", ct))
					if res.Status != http.StatusUnsupportedMediaType || string(res.Body) != want415 {
						t.Errorf("%s: HTTP %d %s, want 415 %s", what, res.Status, res.Body, want415)
					}
					expectJSONContentType(t, what, res)
				}
				if route.body != "" {
					// A body that says nothing of its type is not taken as JSON.
					what := route.name + " without a Content-Type at " + prefix + route.path
					res := c.REST(route.method, prefix+route.path, nil, harness.RawBody(route.body), harness.Header("Content-Type", ""))
					if res.Status != http.StatusUnsupportedMediaType || string(res.Body) != want415 {
						t.Errorf("%s: HTTP %d %s, want 415", what, res.Status, res.Body)
					}
				}
			}
		}
		expectUnchanged(t, srv, "bodies that are not JSON", before, host.Token)

		// JSON with parameters is JSON; media types are case-insensitive.
		for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON;Charset=UTF-8"} {
			res := srv.REST(http.MethodPost, "/auth/login", nil, harness.RawBody(`{"email":"host@example.com","password":"correct-horse"}`), harness.Header("Content-Type", ct))
			if res.Status != http.StatusCreated {
				t.Errorf("login as %s: HTTP %d %s, want 201", ct, res.Status, res.Body)
			}
		}
		// No body and no type is still the empty form, as legacy clients send it.
		if res := hostC.REST(http.MethodPost, "/rooms/participants/"+joined.ParticipantID+"/leave", nil); res.Status != http.StatusCreated {
			t.Errorf("leave without a body: HTTP %d %s, want 201", res.Status, res.Body)
		}
	})
}

// /query refuses what encoding/json would forgive with the 400 it gives any
// body that does not decode, and runs nothing; whitespace after the value
// is fine.
func TestStrictBodies_GraphQLRefusesAmbiguousJSON(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host := srv.Register("host@example.com", "Host")
		room := srv.WithToken(host.Token).CreateRoom(map[string]any{"name": "Standup"})
		before := snapshot(t, srv, host.Token)
		end := `mutation { endRoom(roomId: \"` + room.ID + `\") { id } }`
		register := `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`
		for name, body := range map[string]string{
			"trailing garbage":          `{"query":"` + end + `"}garbage`,
			"a second value":            `{"query":"` + end + `"} {"query":"{__typename}"}`,
			"a closing brace too many":  `{"query":"` + end + `"}}`,
			"duplicate query":           `{"query":"{__typename}","query":"` + end + `"}`,
			"duplicate variable":        `{"query":"` + register + `","variables":{"in":{"email":"x","password":"correct-horse","displayName":"Dup","email":"dup@example.com"}}}`,
			"duplicate variables":       `{"query":"` + register + `","variables":{},"variables":{"in":{"email":"dup@example.com","password":"correct-horse","displayName":"Dup"}}}`,
			"query in capitals":         `{"Query":"` + end + `"}`,
			"operationName in capitals": `{"query":"query A { __typename } mutation B { endRoom(roomId: \"` + room.ID + `\") { id } }","OPERATIONNAME":"B"}`,
		} {
			res := srv.WithToken(host.Token).REST(http.MethodPost, "/query", nil, harness.RawBody(body))
			gql := res.GQL(t)
			if res.Status != http.StatusBadRequest || len(gql.Errors) != 1 ||
				!strings.HasPrefix(gql.Errors[0].Message, "json request body could not be decoded") || string(gql.Data) != "null" {
				t.Errorf("%s: HTTP %d %s, want 400 and the error of a body that does not decode", name, res.Status, res.Body)
			}
		}
		expectUnchanged(t, srv, "ambiguous bodies", before, host.Token)

		res := srv.REST(http.MethodPost, "/query", nil, harness.RawBody(" {\"query\":\"{__typename}\"} \r\n\t"))
		if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"__typename":"Query"`) {
			t.Errorf("a body with whitespace around it: HTTP %d %s, want it answered", res.Status, res.Body)
		}
	})
}
