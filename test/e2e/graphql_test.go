package e2e

// The GraphQL endpoint itself: what it says when the database fails, which
// transports may change data, persisted queries, the production schema,
// the schema's source. The playground has its own files (playground_test.go,
// playground_browser_test.go).

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uptrace/bun"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// leak reports which tell-tale of a database error body has.
func leak(body []byte) string {
	lower := strings.ToLower(string(body))
	for _, s := range []string{"select", "insert", "from ", "sql", "no such table", "does not exist", "relation",
		"room_settings", "participants", "database", "closed", "prefetch", "load ", "constraint", "pq:", "pgx", "42p01"} {
		if strings.Contains(lower, s) {
			return s
		}
	}
	return ""
}

func TestGraphQL_InternalErrorsAreMasked(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host := srv.Register("host@example.com", "Host")
		hostC := srv.WithToken(host.Token)
		hostC.CreateRoom(nil)

		expectMasked := func(what string, c *harness.Client, query string, vars map[string]any) {
			t.Helper()
			res := c.REST(http.MethodPost, "/query", map[string]any{"query": query, "variables": vars})
			gql := res.GQL(t)
			if len(gql.Errors) == 0 {
				t.Fatalf("%s: no error (data %s); the database was supposed to fail", what, gql.Data)
			}
			for _, e := range gql.Errors {
				if e.Message != "internal error" || e.Extensions["code"] != "INTERNAL_SERVER_ERROR" {
					t.Errorf("%s: error %q code %v, want \"internal error\" INTERNAL_SERVER_ERROR", what, e.Message, e.Extensions["code"])
				}
				if len(e.Extensions) != 1 {
					t.Errorf("%s: extensions %v carry more than the code", what, e.Extensions)
				}
			}
			if l := leak(res.Body); l != "" {
				t.Errorf("%s: response mentions %q: %s", what, l, res.Body)
			}
		}

		// A missing table: the nested loads fail. (Messages refer to
		// participants, so PostgreSQL drops them first.)
		dbtest.Exec(t, bdb, "DROP TABLE messages")
		dbtest.Exec(t, bdb, "DROP TABLE participants")
		expectMasked("me.rooms.participants without its table", hostC, `{ me { rooms { id participants { id } } } }`, nil)
		if res := hostC.REST(http.MethodGet, "/users/me/rooms", nil); res.Status != http.StatusInternalServerError || leak(res.Body) != "" {
			t.Errorf("REST with a missing table: %d %s, want a bare 500", res.Status, res.Body)
		}

		// A closed database: everything fails.
		if err := srv.DB().Close(); err != nil {
			t.Fatal(err)
		}
		expectMasked("me on a closed database", hostC, `{ me { id } }`, nil)
		expectMasked("createRoom on a closed database", hostC, `mutation { createRoom { id } }`, nil)
		expectMasked("register on a closed database", srv.Client, `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"email": "new@example.com", "password": "password1", "displayName": "New"}})
		expectMasked("login on a closed database", srv.Client, `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"email": "host@example.com", "password": harness.Password}})
		if res := hostC.REST(http.MethodGet, "/users/me/rooms", nil); res.Status != http.StatusInternalServerError || leak(res.Body) != "" {
			t.Errorf("REST on a closed database: %d %s, want a bare 500", res.Status, res.Body)
		}
		if res := srv.REST(http.MethodGet, "/readyz", nil); res.Status != http.StatusServiceUnavailable || leak(res.Body) != "" {
			t.Errorf("/readyz on a closed database: %d %s, want 503", res.Status, res.Body)
		}
	})
}

func TestGraphQL_MutationsRefusedOverGET(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host := srv.Register("host@example.com", "Host")
		hostC := srv.WithToken(host.Token)
		room := hostC.CreateRoom(map[string]any{"name": "Original"})
		before := snapshot(t, srv, host.Token)

		get := func(params url.Values) harness.Response {
			t.Helper()
			return hostC.REST(http.MethodGet, "/query?"+params.Encode(), nil)
		}
		// GET does serve queries, so the refusals below are about mutations.
		if res := get(url.Values{"query": {`{ me { id } }`}}); res.Status != http.StatusOK || !strings.Contains(string(res.Body), host.ID) {
			t.Fatalf("query over GET: %d %s, want 200 with the viewer", res.Status, res.Body)
		}

		mutations := map[string]url.Values{
			"register":   {"query": {`mutation { register(input: {email: "csrf@example.com", password: "password1", displayName: "Csrf"}) { accessToken } }`}},
			"createRoom": {"query": {`mutation { createRoom(input: {name: "Sneaky"}) { id } }`}},
			"updateRoomSettings": {"query": {`mutation($id: ID!) { updateRoomSettings(roomId: $id, input: {name: "Hijacked", isLocked: true}) { id } }`},
				"variables": {`{"id":"` + room.ID + `"}`}},
			"endRoom":           {"query": {`mutation { endRoom(roomId: "` + room.ID + `") { id } }`}},
			"joinRoom as guest": {"query": {`mutation { joinRoom(code: "` + room.Code + `", guestName: "Csrf") { participantToken } }`}},
			"mutation picked by operationName": {
				"query":         {`query Q { me { id } } mutation M { endRoom(roomId: "` + room.ID + `") { id } }`},
				"operationName": {"M"},
			},
		}
		for name, params := range mutations {
			res := get(params)
			var gql harness.GQLResponse
			_ = json.Unmarshal(res.Body, &gql)
			if res.Status == http.StatusOK || len(gql.Errors) == 0 || (len(gql.Data) > 0 && string(gql.Data) != "null") {
				t.Errorf("%s over GET: %d %s, want it refused", name, res.Status, res.Body)
			}
		}
		expectUnchanged(t, srv, "mutations over GET", before, host.Token)

		// Nor do the content types a cross-site form can send reach GraphQL.
		payload := harness.JSON(map[string]any{"query": `mutation { endRoom(roomId: "` + room.ID + `") { id } }`})
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
			if res := hostC.REST(http.MethodPost, "/query", nil, harness.RawBody(payload), harness.Header("Content-Type", ct)); res.Status == http.StatusOK {
				t.Errorf("POST /query as %s: %d %s, want it refused", ct, res.Status, res.Body)
			}
		}
		expectUnchanged(t, srv, "cross-site form posts", before, host.Token)
	})
}

// GET serves queries; a mutation sent over GET (a link, an <img>) is
// refused before it costs a statement.
func TestGraphQL_MutationsNeverOverGET(t *testing.T) {
	srv := harness.Start(t)
	mutation := `mutation { register(input: {email: "get@example.com", password: "correct-horse", displayName: "Get"}) { accessToken } }`
	var res harness.Response
	if n := srv.StatementsDuring(func() { res = srv.REST(http.MethodGet, "/query?query="+url.QueryEscape(mutation), nil) }); n != 0 {
		t.Errorf("mutation over GET cost %d SQL statements", n)
	}
	if res.Status < 400 || res.Status > 499 || strings.Contains(string(res.Body), "accessToken\":\"") {
		t.Errorf("mutation over GET: HTTP %d %s; want a 4xx refusal", res.Status, res.Body)
	}
	if res := srv.REST(http.MethodGet, "/query?query="+url.QueryEscape(`{ __typename }`), nil); res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"Query"`) {
		t.Errorf("query over GET: HTTP %d %s", res.Status, res.Body)
	}
}

// In production the schema is closed: no introspection, and validation
// errors do not suggest field names. Elsewhere both help developers.
func TestGraphQL_ProductionClosesTheSchema(t *testing.T) {
	const introspect = `{ __schema { types { name } } }`
	const typo = `{ me { displayNme } }`
	for _, prod := range []bool{false, true} {
		env := map[string]string{}
		if prod {
			env["APP_ENV"] = "production"
		}
		srv := harness.Start(t, harness.WithEnv(env))
		res := srv.GQL(introspect, nil)
		gotSchema := len(res.Errors) == 0 && strings.Contains(string(res.Data), `"Room"`)
		if gotSchema == prod {
			t.Errorf("production=%v: introspection answered=%v (%s %+v)", prod, gotSchema, res.Data, res.Errors)
		}
		res = srv.GQL(typo, nil)
		if len(res.Errors) == 0 {
			t.Fatalf("production=%v: a misspelled field was accepted", prod)
		}
		suggests := strings.Contains(res.Errors[0].Message, "displayName")
		if suggests == prod {
			t.Errorf("production=%v: error %q suggests the field=%v", prod, res.Errors[0].Message, suggests)
		}
	}
}

// GET /schema.graphql serves the schema's source for client code
// generators wherever introspection is open, and nothing in production.
func TestGraphQL_SchemaSourceIsServedWhereIntrospectionIs(t *testing.T) {
	source, err := os.ReadFile(filepath.Join("..", "..", "schema.graphqls"))
	if err != nil {
		t.Fatal(err)
	}
	res := harness.Start(t).REST(http.MethodGet, "/schema.graphql", nil)
	if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("development: HTTP %d, Content-Type %q; want 200 text/plain; charset=utf-8", res.Status, res.Header.Get("Content-Type"))
	}
	if string(res.Body) != string(source) {
		t.Errorf("development served %d bytes that are not schema.graphqls (%d bytes)", len(res.Body), len(source))
	}
	if _, err := gqlparser.LoadSchema(&ast.Source{Name: "served", Input: string(res.Body)}); err != nil {
		t.Errorf("the served schema does not load: %v", err)
	}
	prod := harness.Start(t, harness.WithEnv(map[string]string{"APP_ENV": "production"}))
	if res := prod.REST(http.MethodGet, "/schema.graphql", nil); res.Status != http.StatusNotFound || strings.Contains(string(res.Body), "type Query") {
		t.Errorf("production: HTTP %d %.80s; want 404 without the schema", res.Status, res.Body)
	}
}

// In production an introspection query is the client's mistake, not the
// server's: it is refused before execution with a code of its own, however
// the meta-field is reached, and nothing is logged above debug for it.
// __typename still works.
func TestGraphQL_ProductionRefusesIntrospectionAsAClientError(t *testing.T) {
	srv := harness.Start(t, harness.CaptureLogs(), harness.WithEnv(map[string]string{"APP_ENV": "production"}))
	for _, doc := range []string{
		`{ __schema { types { name } } }`,
		`query Probe { __type(name: "Room") { fields { name } } }`,
		`{ ... on Query { __schema { queryType { name } } } }`,
		`{ ...F } fragment F on Query { roomByCode(code: "x") { name } __type(name: "User") { name } }`,
	} {
		res := srv.GQL(doc, nil)
		if res.Status != http.StatusUnprocessableEntity || res.Code() != "INTROSPECTION_DISABLED" || (len(res.Data) > 0 && string(res.Data) != "null") {
			t.Errorf("%s: HTTP %d, code %q, data %s; want 422 INTROSPECTION_DISABLED without data", doc, res.Status, res.Code(), res.Data)
		}
	}
	var typename struct {
		Typename string `json:"__typename"`
	}
	srv.GQL(`{ __typename }`, nil).Decode(t, &typename)
	if typename.Typename != "Query" {
		t.Errorf("__typename in production: %q", typename.Typename)
	}
	for _, rec := range srv.Logs.Records(t) {
		if rec["msg"] != "request" && rec["level"] != "DEBUG" {
			t.Errorf("logged above debug: %v", rec)
		}
	}
}

// persistedQuery is the APQ extension naming a document by its hash.
func persistedQuery(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Automatic persisted queries: a client sends the hash; the server asks for
// the document once, then serves the hash alone (over POST or GET).
func TestGraphQL_AutomaticPersistedQueries(t *testing.T) {
	srv := harness.Start(t)
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	const q = `{ me { displayName } }`
	hash := sha256Hex(q)
	post := func(body map[string]any) harness.GQLResponse {
		return host.GQL("", nil, harness.RawBody(harness.JSON(body)))
	}
	if res := post(map[string]any{"extensions": persistedQuery(hash)}); res.Code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash: %+v, want PERSISTED_QUERY_NOT_FOUND", res.Errors)
	}
	if res := post(map[string]any{"query": q, "extensions": persistedQuery(strings.Repeat("0", 64))}); len(res.Errors) == 0 {
		t.Error("a document with the wrong hash was accepted")
	}
	want := `{"me":{"displayName":"Host"}}`
	if res := post(map[string]any{"query": q, "extensions": persistedQuery(hash)}); string(res.Data) != want {
		t.Fatalf("document with its hash: %s %+v", res.Data, res.Errors)
	}
	if res := post(map[string]any{"extensions": persistedQuery(hash)}); string(res.Data) != want {
		t.Errorf("hash alone over POST: %s %+v", res.Data, res.Errors)
	}
	res := host.REST(http.MethodGet, "/query?extensions="+url.QueryEscape(harness.JSON(persistedQuery(hash))), nil)
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), want) {
		t.Errorf("hash alone over GET: HTTP %d %s", res.Status, res.Body)
	}
}

// APQ keeps small documents only: a large one is served, but its hash
// alone is not remembered, so junk cannot fill the server's memory.
func TestGraphQL_APQKeepsSmallDocumentsOnly(t *testing.T) {
	srv := harness.Start(t)
	q := `{ roomByCode(code: "` + strings.Repeat("x", 20<<10) + `") { id } }` // 20 KB, few tokens
	ext := persistedQuery(sha256Hex(q))
	if res := srv.GQL("", nil, harness.RawBody(harness.JSON(map[string]any{"query": q, "extensions": ext}))); string(res.Data) != `{"roomByCode":null}` {
		t.Fatalf("large document with its hash: %s %+v", res.Data, res.Errors)
	}
	if res := srv.GQL("", nil, harness.RawBody(harness.JSON(map[string]any{"extensions": ext}))); res.Code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("hash of a 20 KB document: %+v, want PERSISTED_QUERY_NOT_FOUND (not kept)", res.Errors)
	}
}

// Documents over the 16 KiB the parsed-query cache keeps are not kept, but
// still served, the same every time they are sent.
func TestGraphQL_LargeDocumentsAreServedWithoutBeingCached(t *testing.T) {
	srv := harness.Start(t)
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	q := "query($n: Int) { me { displayName rooms(first: $n) { id } } } # " + strings.Repeat("x", 20<<10)
	for i := 0; i < 3; i++ {
		res := host.GQL(q, map[string]any{"n": 1})
		if string(res.Data) != `{"me":{"displayName":"Host","rooms":[]}}` || len(res.Errors) != 0 {
			t.Fatalf("a 20 KB document, sent %d times: %s %+v", i+1, res.Data, res.Errors)
		}
	}
}

// What the subscription machinery adds to every response (fresh loaders
// per event) must leave requests that fail before an operation exists
// alone: a body that is not JSON is still described, not an internal error.
func TestGraphQL_MalformedBodiesAreDescribed(t *testing.T) {
	srv := harness.Start(t)
	res := srv.REST(http.MethodPost, "/query", nil, harness.RawBody("{not json"))
	var gql harness.GQLResponse
	if err := json.Unmarshal(res.Body, &gql); err != nil || res.Status != http.StatusBadRequest || len(gql.Errors) != 1 ||
		!strings.Contains(gql.Errors[0].Message, "could not be decoded") {
		t.Fatalf("malformed body: %d %s", res.Status, res.Body)
	}
}
