package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/neuronmeet/api/internal/apperr"
)

// closedSchema refuses introspection where it is off, before execution.
// Without it gqlgen's executor runs the query and its introspection
// resolver fails with a plain error, which the error presenter takes for
// our bug: INTERNAL_SERVER_ERROR, and an error logged for every probe.
// __schema and __type are meta-fields of the query root only (validation
// refuses them anywhere else), so the root selection, fragments expanded,
// is all there is to look at.
type closedSchema struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = closedSchema{}

func (closedSchema) ExtensionName() string                          { return "ClosedSchema" }
func (closedSchema) Validate(schema graphql.ExecutableSchema) error { return nil }

func (closedSchema) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	for _, g := range collectFields(opCtx.Operation.SelectionSet) {
		// Occurrences of one key share a name (validation refuses
		// conflicting fields), so the first says it.
		if g.first.Name == "__schema" || g.first.Name == "__type" {
			err := gqlerror.Errorf("introspection is disabled on this server; the schema is published with its source")
			errcode.Set(err, string(apperr.IntrospectionDisabled))
			return err
		}
	}
	return nil
}
