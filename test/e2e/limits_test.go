package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
)

// strictLimits are small GraphQL limits, so tests can reach each one with a
// readable document.
var strictLimits = map[string]string{
	"GRAPHQL_MAX_BODY_BYTES":    "4096",
	"GRAPHQL_MAX_TOKENS":        "300",
	"GRAPHQL_MAX_DEPTH":         "5",
	"GRAPHQL_MAX_ALIASES":       "3",
	"GRAPHQL_MAX_COMPLEXITY":    "500",
	"GRAPHQL_DEFAULT_LIST_SIZE": "100",
}

// rawGQL posts body as-is to /query and decodes the GraphQL response.
func (s *testServer) rawGQL(token, body string) (int, gqlResponse) {
	s.t.Helper()
	status, _, raw := s.do(http.MethodPost, "/query", token, body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		s.t.Fatalf("HTTP %d, body is not a GraphQL response: %s", status, raw)
	}
	return status, out
}

func gqlRequestBody(t testing.TB, query string, vars map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every hostile document is refused with its own code before any resolver
// runs: the refusal costs no SQL statement and changes nothing.
func TestGraphQLLimits_RejectedDocumentsCostNoSQL(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb, strictLimits)
		host := srv.register("host@example.com", "Host")
		loginIn := `{email: "host@example.com", password: "correct-horse"}`
		cases := []struct {
			name, query string
			vars        map[string]any
			code        string
		}{
			{"too many tokens", "{ me { " + strings.Repeat("id ", 300) + "} }", nil, "GRAPHQL_PARSE_FAILED"},
			{"too deep", `{ me { rooms(first: 1) { host { rooms(first: 1) { host { id } } } } } }`, nil, "QUERY_TOO_DEEP"},
			{"too deep through a fragment", `{ me { ...R } } fragment R on User { rooms(first: 1) { host { rooms(first: 1) { id host { id } } } } }`, nil, "QUERY_TOO_DEEP"},
			{"too many aliases", `{ a: me { id } b: me { id } c: me { id } d: me { id } }`, nil, "TOO_MANY_ALIASES"},
			{"aliases through fragments", `{ ...F ...G } fragment F on Query { a: me { id } b: me { id } } fragment G on Query { c: me { id } d: me { id } }`, nil, "TOO_MANY_ALIASES"},
			{"lists without first count as the default size", `{ me { rooms { participants { id } } } }`, nil, "QUERY_TOO_COMPLEX"},
			{"first from a variable", `query($n: Int) { me { rooms(first: $n) { participants { id } } } }`, map[string]any{"n": 100}, "QUERY_TOO_COMPLEX"},
			{"nested lists through fragments", `{ me { ...A } } fragment A on User { rooms { ...B } } fragment B on Room { participants { user { displayName } } }`, nil, "QUERY_TOO_COMPLEX"},
			{"two logins through aliases", `mutation { a: login(input: ` + loginIn + `) { accessToken } b: login(input: ` + loginIn + `) { accessToken } }`, nil, "TOO_MANY_SIGN_INS"},
			{"register and login", `mutation { register(input: {email: "x@example.com", password: "correct-horse", displayName: "Xy"}) { accessToken } login(input: ` + loginIn + `) { accessToken } }`, nil, "TOO_MANY_SIGN_INS"},
			{"one login spread twice", `mutation { ...L ...L } fragment L on Mutation { login(input: ` + loginIn + `) { accessToken } }`, nil, ""},
			{"NUL in a variable", `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
				map[string]any{"in": map[string]any{"email": "nul@example.com", "password": "correct-horse", "displayName": "Nu\x00l"}}, "BAD_USER_INPUT"},
			{"NUL in a literal", `mutation { createRoom(input: {name: "a\u0000b"}) { id } }`, nil, "BAD_USER_INPUT"},
		}
		for _, tc := range cases {
			before := srv.stmts.Total()
			status, res := srv.rawGQL(host.Token, gqlRequestBody(t, tc.query, tc.vars))
			spent := srv.stmts.Total() - before
			if tc.code == "" {
				// The same field twice through one fragment is one field: it
				// merges, so it is one login, and it runs.
				if len(res.Errors) != 0 || status != http.StatusOK {
					t.Errorf("%s: HTTP %d, errors %+v; want it served", tc.name, status, res.Errors)
				}
				continue
			}
			if res.code() != tc.code || len(res.Data) != 0 && string(res.Data) != "null" {
				t.Errorf("%s: code %q, data %s, errors %+v; want %s and no data", tc.name, res.code(), res.Data, res.Errors, tc.code)
			}
			if status != http.StatusUnprocessableEntity {
				t.Errorf("%s: HTTP %d, want 422", tc.name, status)
			}
			if spent != 0 {
				t.Errorf("%s: the rejected document cost %d SQL statements, want 0", tc.name, spent)
			}
		}
		// Nothing a rejected document asked for happened.
		var users, rooms int
		if err := bdb.NewRaw("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM rooms)").Scan(t.Context(), &users, &rooms); err != nil {
			t.Fatal(err)
		}
		if users != 1 || rooms != 0 {
			t.Errorf("after rejected documents: %d users, %d rooms; want 1, 0", users, rooms)
		}
	})
}

// Within the limits the same shapes are served: `first` weighs a list by
// the page asked for, so a paged query passes where an unpaged one did not.
func TestGraphQLLimits_AllowWhatFits(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), strictLimits)
	host := srv.register("host@example.com", "Host")
	srv.createRoom(host.Token, map[string]any{"name": "Standup"})
	for name, doc := range map[string]struct {
		query string
		vars  map[string]any
	}{
		"first as a literal":     {`{ me { rooms(first: 2) { participants { id } } } }`, nil},
		"first as a variable":    {`query($n: Int) { me { rooms(first: $n) { participants { id } } } }`, map[string]any{"n": 3}},
		"depth at the limit":     {`{ me { rooms(first: 1) { participants { user { id } } } } }`, nil},
		"aliases at the limit":   {`{ a: me { id } b: me { id } c: me { id } }`, nil},
		"introspection typename": {`{ __typename me { __typename id } }`, nil},
		// Each fragment spreads the next twice: expanded naively that is
		// 2^9 copies of me; merged as execution merges it, one field.
		"fragments spread twice over": {`{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...C ...C } fragment C on Query { ...D ...D } ` +
			`fragment D on Query { ...E ...E } fragment E on Query { ...G ...G } fragment G on Query { ...H ...H } fragment H on Query { ...I ...I } ` +
			`fragment I on Query { ...J ...J } fragment J on Query { me { id } }`, nil},
	} {
		status, res := srv.rawGQL(host.Token, gqlRequestBody(t, doc.query, doc.vars))
		if status != http.StatusOK || len(res.Errors) != 0 {
			t.Errorf("%s: HTTP %d, errors %+v; want it served", name, status, res.Errors)
		}
	}
}

// The default limits admit the largest query the clients send, whose cost
// is exactly what the README says: me 1 + 100 rooms × (10 scalars + host 2 +
// settings 7 + participants (1 + 100 × (8 scalars + user 2))) = 102,002.
func TestGraphQLLimits_DefaultsAdmitTheBenchmarkQueries(t *testing.T) {
	bdb := dbtest.Open(t, "sqlite")
	srv := newTestServer(t, bdb)
	host := srv.register("host@example.com", "Host")
	for _, q := range []string{benchQueryA, benchQueryB} {
		if res := srv.gql(host.Token, q, nil); len(res.Errors) != 0 {
			t.Errorf("default limits refuse %.40q…: %+v", q, res.Errors)
		}
	}
	for limit, wantCode := range map[string]string{"102002": "", "102001": "QUERY_TOO_COMPLEX"} {
		srv := newTestServer(t, bdb, map[string]string{"GRAPHQL_MAX_COMPLEXITY": limit})
		if res := srv.gql(host.Token, benchQueryB, nil); res.code() != wantCode {
			t.Errorf("complexity limit %s: code %q, want %q", limit, res.code(), wantCode)
		}
	}
}

// Bodies over the cap are answered 413 before they are read into memory,
// whether or not they announce their length.
func TestGraphQLLimits_OversizedBodyIs413(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), strictLimits)
	pad := strings.Repeat(" ", 4096)
	big := `{"query":"{ __typename }"` + pad + `}`
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		before := srv.stmts.Total()
		resp, err := srv.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var res gqlResponse
		_ = json.Unmarshal(raw, &res)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || res.code() != "PAYLOAD_TOO_LARGE" {
			t.Errorf("chunked=%v: HTTP %d %s; want 413 PAYLOAD_TOO_LARGE", chunked, resp.StatusCode, raw)
		}
		if n := srv.stmts.Total() - before; n != 0 {
			t.Errorf("chunked=%v: oversized body cost %d statements", chunked, n)
		}
	}
	// Just under the cap is fine.
	ok := `{"query":"{ __typename }"` + strings.Repeat(" ", 4096-len(`{"query":"{ __typename }"}`)) + `}`
	if status, res := srv.rawGQL("", ok); status != http.StatusOK || len(res.Errors) != 0 {
		t.Errorf("body of exactly the cap: HTTP %d %+v", status, res.Errors)
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
		srv := newTestServer(t, dbtest.Open(t, "sqlite"), env)
		res := srv.gql("", introspect, nil)
		gotSchema := len(res.Errors) == 0 && strings.Contains(string(res.Data), `"Room"`)
		if gotSchema == prod {
			t.Errorf("production=%v: introspection answered=%v (%s %+v)", prod, gotSchema, res.Data, res.Errors)
		}
		res = srv.gql("", typo, nil)
		if len(res.Errors) == 0 {
			t.Fatalf("production=%v: a misspelled field was accepted", prod)
		}
		suggests := strings.Contains(res.Errors[0].Message, "displayName")
		if suggests == prod {
			t.Errorf("production=%v: error %q suggests the field=%v", prod, res.Errors[0].Message, suggests)
		}
	}
}

// GET serves queries; a mutation sent over GET (a link, an <img>) is
// refused and changes nothing.
func TestGraphQL_MutationsNeverOverGET(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"))
	mutation := `mutation { register(input: {email: "get@example.com", password: "correct-horse", displayName: "Get"}) { accessToken } }`
	before := srv.stmts.Total()
	status, _, body := srv.do(http.MethodGet, "/query?query="+url.QueryEscape(mutation), "", nil)
	if status < 400 || status > 499 || strings.Contains(string(body), "accessToken\":\"") {
		t.Errorf("mutation over GET: HTTP %d %s; want a 4xx refusal", status, body)
	}
	if n := srv.stmts.Total() - before; n != 0 {
		t.Errorf("mutation over GET cost %d SQL statements", n)
	}
	if status, _, body := srv.do(http.MethodGet, "/query?query="+url.QueryEscape(`{ __typename }`), "", nil); status != http.StatusOK || !strings.Contains(string(body), `"Query"`) {
		t.Errorf("query over GET: HTTP %d %s", status, body)
	}
}

// Automatic persisted queries: a client sends the hash; the server asks for
// the document once, then serves the hash alone (over POST or GET).
func TestGraphQL_AutomaticPersistedQueries(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"))
	host := srv.register("host@example.com", "Host")
	const q = `{ me { displayName } }`
	sum := sha256.Sum256([]byte(q))
	hash := hex.EncodeToString(sum[:])
	ext := func(h string) map[string]any {
		return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": h}}
	}
	post := func(body map[string]any) gqlResponse {
		b, _ := json.Marshal(body)
		_, res := srv.rawGQL(host.Token, string(b))
		return res
	}
	if res := post(map[string]any{"extensions": ext(hash)}); res.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash: %+v, want PERSISTED_QUERY_NOT_FOUND", res.Errors)
	}
	if res := post(map[string]any{"query": q, "extensions": ext(strings.Repeat("0", 64))}); len(res.Errors) == 0 {
		t.Error("a document with the wrong hash was accepted")
	}
	want := `{"me":{"displayName":"Host"}}`
	if res := post(map[string]any{"query": q, "extensions": ext(hash)}); string(res.Data) != want {
		t.Fatalf("document with its hash: %s %+v", res.Data, res.Errors)
	}
	if res := post(map[string]any{"extensions": ext(hash)}); string(res.Data) != want {
		t.Errorf("hash alone over POST: %s %+v", res.Data, res.Errors)
	}
	extJSON, _ := json.Marshal(ext(hash))
	status, _, body := srv.do(http.MethodGet, "/query?extensions="+url.QueryEscape(string(extJSON)), host.Token, nil)
	if status != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("hash alone over GET: HTTP %d %s", status, body)
	}
}

// The token cap is what bounds parsing: a document just under it parses.
func TestGraphQLLimits_TokenCapIsExact(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"GRAPHQL_MAX_TOKENS": "10"})
	for n, wantOK := range map[int]bool{8: true, 9: false} {
		// n names and two braces.
		q := "{" + strings.Repeat(" __typename", n) + " }"
		_, res := srv.rawGQL("", gqlRequestBody(t, q, nil))
		if ok := len(res.Errors) == 0; ok != wantOK {
			t.Errorf("%d tokens: served=%v, want %v (%+v)", n+2, ok, wantOK, res.Errors)
		}
	}
}

// APQ keeps small documents only: a large one is served, but its hash
// alone is not remembered, so junk cannot fill the server's memory.
func TestGraphQL_APQKeepsSmallDocumentsOnly(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"))
	q := `{ roomByCode(code: "` + strings.Repeat("x", 20<<10) + `") { id } }` // 20 KB, few tokens
	sum := sha256.Sum256([]byte(q))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	b, _ := json.Marshal(map[string]any{"query": q, "extensions": ext})
	if _, res := srv.rawGQL("", string(b)); string(res.Data) != `{"roomByCode":null}` {
		t.Fatalf("large document with its hash: %s %+v", res.Data, res.Errors)
	}
	b, _ = json.Marshal(map[string]any{"extensions": ext})
	if _, res := srv.rawGQL("", string(b)); res.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("hash of a 20 KB document: %+v, want PERSISTED_QUERY_NOT_FOUND (not kept)", res.Errors)
	}
}

// Documents over the 16 KiB the parsed-query cache keeps are not kept, but
// still served, the same every time they are sent.
func TestGraphQL_LargeDocumentsAreServedWithoutBeingCached(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"))
	host := srv.register("host@example.com", "Host")
	q := "query($n: Int) { me { displayName rooms(first: $n) { id } } } # " + strings.Repeat("x", 20<<10)
	for i := 0; i < 3; i++ {
		res := srv.gql(host.Token, q, map[string]any{"n": 1})
		if string(res.Data) != `{"me":{"displayName":"Host","rooms":[]}}` || len(res.Errors) != 0 {
			t.Fatalf("a 20 KB document, sent %d times: %s %+v", i+1, res.Data, res.Errors)
		}
	}
}
