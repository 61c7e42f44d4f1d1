package graph

import (
	"log/slog"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/service"
)

// HandlerConfig tunes the GraphQL endpoint.
type HandlerConfig struct {
	// Introspection is off in production: the schema is published in the
	// repository, and a closed schema narrows what an attacker can probe.
	Introspection bool
}

// NewHandler returns the /query endpoint. It needs the auth and loaders
// middleware in front of it (see server.go).
func NewHandler(svc *service.Service, log *slog.Logger, cfg HandlerConfig) *handler.Server {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{Service: svc}}))
	srv.AddTransport(transport.Options{})
	// GET serves queries only (gqlgen refuses mutations over GET), so
	// cross-site links can never change anything.
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.SetErrorPresenter(errorPresenter(log))
	srv.SetRecoverFunc(recoverFunc(log))
	return srv
}
