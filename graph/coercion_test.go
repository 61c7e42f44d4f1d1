package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// Variables are coerced as the spec says, not as gqlgen's scalars would
// convert them; what gqlparser already refuses stays refused by it.
func TestStrictVariables_FollowTheSpecsInputCoercion(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	const doc = `query Q($first: Int, $after: ID, $status: RoomStatus, $code: String!) {
		me { rooms(first: $first, after: $after, status: $status) { id } }
		roomByCode(code: $code) { id } }
		mutation M($in: CreateRoomInput) { createRoom(input: $in) { id } }`
	parsed, err := parser.ParseQuery(&ast.Source{Input: doc})
	if err != nil {
		t.Fatal(err)
	}
	if errs := validator.Validate(schema, parsed); len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, c := range []struct {
		op, vars string
		refused  string // the error's path, "" when accepted
	}{
		{"q", `{"first":10,"after":"c1","status":"ACTIVE","code":"abc"}`, ""},
		{"q", `{"first":null,"after":null,"code":"abc"}`, ""},
		{"q", `{"first":"10","code":"abc"}`, "variable.first"},
		{"q", `{"first":3000000000,"code":"abc"}`, "variable.first"},
		{"q", `{"first":-2147483648,"code":"abc"}`, ""},
		{"q", `{"after":12345,"code":"abc"}`, ""}, // an ID may be an integer
		{"q", `{"after":1.5,"code":"abc"}`, "variable.after"},
		{"q", `{"code":12345}`, "variable.code"},
		{"m", `{"in":{"name":"Standup","maxParticipants":10,"allowChat":false}}`, ""},
		{"m", `{"in":{"maxParticipants":"10"}}`, "variable.in.maxParticipants"},
		{"m", `{"in":{"name":42}}`, "variable.in.name"},
		{"m", `{"in":{"name":null}}`, ""},
	} {
		var vars map[string]any
		dec := json.NewDecoder(bytes.NewReader([]byte(c.vars)))
		dec.UseNumber()
		if err := dec.Decode(&vars); err != nil {
			t.Fatal(err)
		}
		op := parsed.Operations[0]
		if c.op == "m" {
			op = parsed.Operations[1]
		}
		coerced, err := validator.VariableValues(schema, op, vars)
		if err != nil {
			t.Fatalf("%s: gqlparser refused it already: %v", c.vars, err)
		}
		opCtx := &graphql.OperationContext{Doc: parsed, Operation: op, Variables: coerced}
		gqlErr := strictVariables{schema}.MutateOperationContext(context.Background(), opCtx)
		switch {
		case c.refused == "" && gqlErr != nil:
			t.Errorf("%s: refused (%v), want it accepted", c.vars, gqlErr)
		case c.refused != "" && gqlErr == nil:
			t.Errorf("%s: accepted, want %s refused", c.vars, c.refused)
		case c.refused != "" && (gqlErr.Path.String() != c.refused || gqlErr.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED"):
			t.Errorf("%s: %v at %s (%v), want GRAPHQL_VALIDATION_FAILED at %s", c.vars, gqlErr.Message, gqlErr.Path, gqlErr.Extensions, c.refused)
		}
	}
}
