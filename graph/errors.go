package graph

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/internal/apperr"
)

// internalMessage is all a client learns about an unexpected failure; the
// detail goes to the log with the request's path.
const internalMessage = "internal error"

// unavailableMessage answers failures of the database's availability
// (connection lost, restarting, statement timeout).
const unavailableMessage = "service temporarily unavailable; please retry"

// errorPresenter maps domain errors to GraphQL errors with
// extensions.code (and field/reason where known), passes gqlgen's own
// parse, validation and input-coercion errors through, and scrubs
// everything else to "internal error" after logging it.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		if appErr, ok := apperr.As(err); ok {
			gqlErr := graphql.DefaultErrorPresenter(ctx, err)
			gqlErr.Message = appErr.Message
			ext := map[string]any{"code": string(appErr.Code)}
			if appErr.Field != "" {
				ext["field"] = appErr.Field
			}
			if appErr.Reason != "" {
				ext["reason"] = string(appErr.Reason)
			}
			if appErr.RetryAfter > 0 {
				// Whole seconds, as HTTP's Retry-After counts them.
				ext["retryAfter"] = int64((appErr.RetryAfter + time.Second - 1) / time.Second)
			}
			if len(appErr.All) > 1 {
				// Several inputs were wrong at once: list them all, so a form
				// can mark every bad field in one round trip.
				all := make([]map[string]string, len(appErr.All))
				for i, e := range appErr.All {
					all[i] = map[string]string{"field": e.Field, "message": e.Message}
				}
				ext["errors"] = all
			}
			gqlErr.Extensions = ext
			return gqlErr
		}
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Unwrap() == nil {
			// Produced by gqlgen itself while parsing, validating or coercing
			// the request: its message describes the client's document. A
			// gqlerror that wraps another error carries a resolver's failure
			// and is scrubbed below.
			if gqlErr.Extensions == nil {
				gqlErr.Extensions = map[string]any{}
			}
			if _, ok := gqlErr.Extensions["code"]; !ok {
				gqlErr.Extensions["code"] = string(apperr.BadUserInput)
			}
			return gqlErr
		}
		if errors.Is(err, context.Canceled) {
			// The client hung up; nobody reads this answer.
			log.InfoContext(ctx, "graphql resolver cancelled", "err", err, "path", graphql.GetPath(ctx).String())
			internal := graphql.DefaultErrorPresenter(ctx, errors.New(internalMessage))
			internal.Extensions = map[string]any{"code": string(apperr.Internal)}
			return internal
		}
		if db.IsUnavailable(err) {
			// The database is down, restarting or too slow: not our bug,
			// and worth a retry. Warn, and tell the client so.
			log.WarnContext(ctx, "graphql resolver: database unavailable", "err", err, "path", graphql.GetPath(ctx).String())
			unavailable := graphql.DefaultErrorPresenter(ctx, errors.New(unavailableMessage))
			unavailable.Extensions = map[string]any{"code": string(apperr.ServiceUnavailable)}
			return unavailable
		}
		log.ErrorContext(ctx, "graphql resolver failed", "err", err, "path", graphql.GetPath(ctx).String())
		internal := graphql.DefaultErrorPresenter(ctx, errors.New(internalMessage))
		internal.Extensions = map[string]any{"code": string(apperr.Internal)}
		return internal
	}
}

// recoverFunc turns a resolver panic into a masked internal error.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql resolver panicked", "panic", p, "path", graphql.GetPath(ctx).String())
		return errors.New(internalMessage)
	}
}
