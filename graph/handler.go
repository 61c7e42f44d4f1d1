package graph

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/internal/admission"
	"github.com/neuronmeet/api/internal/respcache"
	"github.com/neuronmeet/api/internal/service"
)

// HandlerConfig tunes the GraphQL endpoint.
type HandlerConfig struct {
	// Production turns off introspection, GET /schema.graphql and "did
	// you mean" suggestions: the schema is published in the repository,
	// and a closed schema narrows what an attacker can probe.
	Production bool
	Limits     Limits
	// APQCacheSize is how many automatic persisted queries are remembered
	// (0: DefaultAPQCacheSize).
	APQCacheSize int
	// Subscriptions configures live events over websockets and SSE.
	Subscriptions SubscriptionConfig
	// Gate is the admission gate plain requests pass before reaching the
	// handler; a websocket's operations and every subscription event wait
	// for a slot in it too. Nil admits everything.
	Gate *admission.Gate
	// ShadowFastPath also runs every query the fast path answers through
	// gqlgen's executor and turns a difference into an error (see
	// fastSchema). For tests: it doubles the work of the hottest query.
	ShadowFastPath bool
	// Answers, when set, keeps answers to the viewer's own queries (me
	// { … }) and serves them again while the viewer's answers version
	// stands (see answerCache).
	Answers *respcache.Cache
}

// DefaultAPQCacheSize is HandlerConfig.APQCacheSize's default: far more
// distinct documents than the clients send.
const DefaultAPQCacheSize = 1000

// NewHandler returns the /query endpoint. It needs auth.Middleware in
// front of it (see app.Wrap).
func NewHandler(svc *service.Service, log *slog.Logger, cfg HandlerConfig) http.Handler {
	resolver := &Resolver{Service: svc, Gate: cfg.Gate}
	present := errorPresenter(log)
	streams := newStreamCounts(cfg.Subscriptions.Limits)
	schema := NewExecutableSchema(Config{Resolvers: resolver})
	srv := handler.New(newFastSchema(schema, cfg.ShadowFastPath, log))
	srv.AddTransport(transport.Options{})
	// GET serves queries only (gqlgen refuses mutations over GET), so
	// cross-site links can never change anything.
	srv.AddTransport(transport.GET{})
	if cfg.Subscriptions.Tokens != nil {
		srv.AddTransport(websocketTransport(cfg.Subscriptions, streams, cfg.Limits.MaxBodyBytes, log))
	}
	// Before POST, which would also take a POSTed JSON body: SSE answers
	// the clients that accept text/event-stream.
	srv.AddTransport(newSSETransport(cfg.Subscriptions))
	post := postTransport{}
	if cfg.Answers != nil {
		post.answers = newAnswerCache(svc, cfg.Answers)
	}
	srv.AddTransport(post)
	srv.SetQueryCache(documentCache{lru.New[*ast.QueryDocument](1000)})
	srv.SetParserTokenLimit(cfg.Limits.MaxTokens)
	if cfg.SchemaOpen() {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(closedSchema{})
	}
	srv.SetDisableSuggestion(cfg.Production)
	apqSize := cfg.APQCacheSize
	if apqSize <= 0 {
		apqSize = DefaultAPQCacheSize
	}
	// The cache holds documents sent in full with their (checked) hash,
	// before they are validated: large ones are served but not kept, so
	// junk cannot fill memory (at most apqSize × apqMaxBytes).
	srv.Use(extension.AutomaticPersistedQuery{Cache: smallOnly{lru.New[string](apqSize)}})
	// First of the checks of a parsed operation: a variable that does not
	// fit is a validation failure, as gqlgen's own checks find them.
	srv.Use(strictVariables{schema.Schema()})
	srv.Use(limitsExtension{cfg.Limits})
	srv.AroundOperations(labelOperation)
	srv.AroundOperations(operationPrincipal(cfg.Subscriptions.Tokens))
	// Around reportStreamErrors: a stream that ends by itself (a shutdown,
	// a reader too slow) reports why before the token's deadline is let go,
	// which ends the operation's context (inside, it hid that report).
	srv.AroundOperations(endWithToken(present))
	srv.AroundOperations(reportStreamErrors(present))
	srv.AroundOperations(streamOps(streams, cfg.Gate, present))
	srv.AroundOperations(withEventTurns)
	srv.AroundResponses(withLoaders(svc))
	srv.AroundResponses(eventTurnsDone)
	// No field middleware (AroundFields, a FieldInterceptor): the fast path
	// would not run it for the fields it answers (see fastSchema).
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(recoverFunc(log))
	return streams.limitWebsocketsPerAddress(bodyLimit(cfg.Limits.MaxBodyBytes, srv))
}

// apqMaxBytes is the largest document kept for APQ; real clients' are a
// few kilobytes.
const apqMaxBytes = 16 << 10

// smallOnly is an APQ cache that does not keep documents over apqMaxBytes.
type smallOnly struct{ graphql.Cache[string] }

func (c smallOnly) Add(ctx context.Context, key, query string) {
	if cacheableDocument(query) {
		c.Cache.Add(ctx, key, query)
	}
}
