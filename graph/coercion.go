package graph

import (
	"context"
	"encoding/json"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// strictVariables holds variables to the spec's input coercion, which
// gqlparser's and gqlgen's leave lenient: gqlparser lets the string "10"
// through as an Int (and "2.5" as a Float), and since a JSON number comes
// as a json.Number, a string underneath, it lets 5 through as a String;
// gqlgen's unmarshallers then convert both. A client sending "10" has a
// bug the server should name, not hide. Literals in the document are
// already checked by gqlparser's validation; this checks variables, input
// objects and lists within them included, after gqlparser has (unknown
// fields, nulls and missing fields are its business), before anything
// runs, and refuses them as gqlgen refuses variables that do not fit:
// GRAPHQL_VALIDATION_FAILED, a protocol error.
type strictVariables struct{ schema *ast.Schema }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = strictVariables{}

func (strictVariables) ExtensionName() string                   { return "StrictVariables" }
func (strictVariables) Validate(graphql.ExecutableSchema) error { return nil }

func (s strictVariables) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	for _, def := range opCtx.Operation.VariableDefinitions {
		v, ok := opCtx.Variables[def.Variable]
		if !ok {
			continue
		}
		path := ast.Path{ast.PathName("variable"), ast.PathName(def.Variable)}
		if err := s.check(def.Type, v, path); err != nil {
			return err
		}
	}
	return nil
}

// check checks v, of type typ, and what it holds.
func (s strictVariables) check(typ *ast.Type, v any, path ast.Path) *gqlerror.Error {
	if v == nil {
		return nil
	}
	if typ.Elem != nil {
		list, ok := v.([]any)
		if !ok { // a single value stands for a list of one
			return s.check(typ.Elem, v, path)
		}
		for i, e := range list {
			if err := s.check(typ.Elem, e, append(path, ast.PathIndex(i))); err != nil {
				return err
			}
		}
		return nil
	}
	def := s.schema.Types[typ.NamedType]
	if def == nil {
		return nil // gqlparser's validation refuses unknown types
	}
	switch def.Kind {
	case ast.InputObject:
		fields, ok := v.(map[string]any)
		if !ok {
			return nil // gqlparser refuses it
		}
		for _, f := range def.Fields {
			if fv, ok := fields[f.Name]; ok {
				if err := s.check(f.Type, fv, append(path, ast.PathName(f.Name))); err != nil {
					return err
				}
			}
		}
		return nil
	case ast.Enum:
		if _, ok := v.(string); !ok {
			return coercionError(path, v, def.Name)
		}
		return nil
	case ast.Scalar:
		if !scalarAccepts(def.Name, v) {
			return coercionError(path, v, def.Name)
		}
	}
	return nil
}

// scalarAccepts says whether the built-in scalar named accepts v as
// input, as the spec's input coercion has it: Int an integral number in
// 32 bits, Float any number, String a string, Boolean a boolean, ID a
// string or an integral number. Custom scalars decide for themselves.
func scalarAccepts(name string, v any) bool {
	switch name {
	case "Int":
		n, ok := integer(v)
		return ok && n >= math.MinInt32 && n <= math.MaxInt32
	case "Float":
		return isNumber(v)
	case "String":
		_, ok := v.(string)
		return ok
	case "Boolean":
		_, ok := v.(bool)
		return ok
	case "ID":
		if _, ok := v.(string); ok {
			return true
		}
		_, ok := integer(v)
		return ok
	}
	return true
}

// integer is v as an integer, if it is an integral number: a json.Number
// (variables decoded with UseNumber), an int64 (gqlparser's coercion of a
// top-level Int variable), or a whole float64 (decoders without
// UseNumber).
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		return int64(n), n == math.Trunc(n) && math.Abs(n) <= 1<<53
	}
	return 0, false
}

func isNumber(v any) bool {
	switch v.(type) {
	case json.Number, int, int32, int64, float32, float64:
		return true
	}
	return false
}

func coercionError(path ast.Path, v any, typeName string) *gqlerror.Error {
	var what string
	switch v.(type) {
	case string:
		what = "a string"
	case bool:
		what = "a boolean"
	default:
		what = "a number"
		if !isNumber(v) {
			what = "an object or a list"
		}
	}
	err := gqlerror.ErrorPathf(path, "cannot use %s as %s", what, typeName)
	errcode.Set(err, errcode.ValidationFailed)
	return err
}
