package graph

import (
	"net/http"
	"strings"
)

// SchemaOpen reports whether clients may read the schema from the server,
// by introspection or GET /schema.graphql: everywhere but production (see
// HandlerConfig.Production).
func (c HandlerConfig) SchemaOpen() bool { return !c.Production }

// schemaSource is the schema as written in schema.graphqls (gqlgen embeds
// it in the generated code), comments and descriptions included.
var schemaSource = func() string {
	var b strings.Builder
	for _, s := range sources {
		if !s.BuiltIn {
			b.WriteString(s.Input)
		}
	}
	return b.String()
}()

// SchemaSource serves the schema's SDL, for client code generators that
// take a URL. Mount it only where SchemaOpen.
var SchemaSource http.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(schemaSource))
})
