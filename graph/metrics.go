package graph

import (
	"context"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/metrics"
)

// observed reports the size of every batch fetch makes to the metrics.
func observed[K comparable, V any](loader string, fetch func(context.Context, []K) (map[K]V, error)) func(context.Context, []K) (map[K]V, error) {
	return func(ctx context.Context, keys []K) (map[K]V, error) {
		metrics.ObserveBatch(ctx, loader, len(keys))
		return fetch(ctx, keys)
	}
}

// labelOperation labels the request in the metrics with the operation type
// and its root fields ("mutation login"), which the schema bounds, and
// offers the client's name for it ("query MyRooms"). The name may claim a
// label slot only for an operation that a signed-in user ran without an
// error (it validated to get here): anyone else's names count under a
// slot some such operation holds, or under the root fields. Streams are
// not counted as requests, so subscriptions offer no name.
func labelOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	opCtx := graphql.GetOperationContext(ctx)
	if opCtx == nil || opCtx.Operation == nil {
		return next(ctx)
	}
	op := opCtx.Operation
	metrics.SetOperation(ctx, rootFieldsLabel(op))
	name, named := operationName(op)
	if !named {
		return next(ctx)
	}
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp != nil {
			metrics.NameOperation(ctx, name, len(resp.Errors) == 0 && signedInUser(ctx))
		}
		return resp
	}
}

// operationName is the label a named operation offers ("query MyRooms").
func operationName(op *ast.OperationDefinition) (string, bool) {
	if op.Name == "" || len(op.Name) > 64 || op.Operation == ast.Subscription {
		return "", false
	}
	return string(op.Operation) + " " + op.Name, true
}

// labelCachedAnswer labels a request the response cache answered, which
// labelOperation does not see: as it would have, for the signed-in
// viewer's answer without errors it was when it was made.
func labelCachedAnswer(ctx context.Context, op *ast.OperationDefinition) {
	metrics.SetOperation(ctx, rootFieldsLabel(op))
	if name, named := operationName(op); named {
		metrics.NameOperation(ctx, name, true)
	}
}

// signedInUser reports whether ctx's caller holds a user's token that
// verified (guests' participant tokens come from anyone's joinRoom).
func signedInUser(ctx context.Context) bool {
	p := auth.FromContext(ctx)
	return p != nil && p.Err == nil && p.UserID != ""
}

func rootFieldsLabel(op *ast.OperationDefinition) string {
	var fields []string
	seen := map[string]bool{}
	for _, sel := range op.SelectionSet {
		if f, ok := sel.(*ast.Field); ok && !seen[f.Name] {
			seen[f.Name] = true
			fields = append(fields, f.Name)
		}
	}
	sort.Strings(fields)
	return string(op.Operation) + " " + strings.Join(fields, ",")
}
