package graph

import (
	"context"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/internal/metrics"
)

// observed reports the size of every batch fetch makes to the metrics.
func observed[K comparable, V any](loader string, fetch func(context.Context, []K) (map[K]V, error)) func(context.Context, []K) (map[K]V, error) {
	return func(ctx context.Context, keys []K) (map[K]V, error) {
		metrics.ObserveBatch(ctx, loader, len(keys))
		return fetch(ctx, keys)
	}
}

// labelOperation names the request in the metrics: "query MyRooms" when the
// client names its operation, else the operation type and its root fields
// ("mutation login"), which the schema bounds.
func labelOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if opCtx := graphql.GetOperationContext(ctx); opCtx != nil && opCtx.Operation != nil {
		metrics.SetOperation(ctx, operationLabel(opCtx.Operation))
	}
	return next(ctx)
}

func operationLabel(op *ast.OperationDefinition) string {
	if op.Name != "" && len(op.Name) <= 64 {
		return string(op.Operation) + " " + op.Name
	}
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
