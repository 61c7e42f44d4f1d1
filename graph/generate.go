// Package graph is the GraphQL edge: generated code, thin resolvers that
// delegate to the service, and the per-request dataloaders.
package graph

//go:generate go run github.com/99designs/gqlgen generate
