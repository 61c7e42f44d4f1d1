package graph

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// dashboardBody is what the web client POSTs for its dashboard: the rooms
// query, named, with a page size and an APQ hash.
var dashboardBody = func() []byte {
	b, err := json.Marshal(map[string]any{
		"operationName": "Dashboard",
		"query":         "query Dashboard($first: Int, $status: RoomStatus) " + benchDocument[1:],
		"variables":     map[string]any{"first": 20, "status": "ACTIVE"},
		"extensions": map[string]any{"persistedQuery": map[string]any{
			"version": 1, "sha256Hash": "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38",
		}},
	})
	if err != nil {
		panic(err)
	}
	return b
}()

// Decoding the body is on every POST's path: what strictness costs it is
// measured here.
func BenchmarkDecodeParams_DashboardBody(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(dashboardBody)))
	for b.Loop() {
		var params graphql.RawParams
		if err := decodeParams(dashboardBody, &params); err != nil {
			b.Fatal(err)
		}
	}
}

// What encoding/json forgives is refused, with the same answer as any
// other body that does not decode; whitespace around the value is not.
func TestDecodeParams_IsStrict(t *testing.T) {
	for body, want := range map[string]string{
		`{"query":"{__typename}"}`:                     "",
		" {\"query\":\"{__typename}\"}\r\n\t ":         "",
		`{"query":"{__typename}"}garbage`:              "unexpected data after the JSON value",
		`{"query":"{__typename}"}}`:                    "unexpected data after the JSON value",
		`{"query":"{__typename}","query":"{me{id}}"}`:  `duplicate key "query"`,
		`{"query":"{x}","variables":{"a":1,"a":2}}`:    `duplicate key "a"`,
		`{"Query":"{__typename}"}`:                     `unknown key "Query"`,
		`{"query":"{x}","variables":{"A":1,"a":2}}`:    "",
		`{"query":"{x}","extensions":{"custom":true}}`: "",
		`{"query":"{x}","somethingElse":1}`:            "",
	} {
		var params graphql.RawParams
		err := decodeParams([]byte(body), &params)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v, want it decoded", body, err)
		case want != "" && (err == nil || !strings.Contains(err.Message, want) || !strings.HasPrefix(err.Message, "json request body could not be decoded")):
			t.Errorf("%s: %v, want an error saying %s", body, err, want)
		}
	}
}
