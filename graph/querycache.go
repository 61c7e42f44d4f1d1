package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// documentCache is gqlgen's parsed-query cache (document text → parsed
// document) keeping only documents of at most apqMaxBytes, the bound the
// APQ cache keeps to: both hold client-chosen text for the process's life,
// so one rule, cacheableDocument, bounds them both.
//
// gqlgen (executor.parseQuery) looks a document up by its full text before
// parsing it, and adds it once it has parsed and passed validation, but
// before the operation context mutators run. So every valid document is
// kept, including those our limits then refuse, and a valid document can be
// as large as the body limit: `{ __typename }` with a 255 KB comment is one.
// With 1,000 entries and no size bound, 1,000 such documents pinned ~277 MB
// (the text, which the AST's tokens point into, and the AST). Bounded, the
// cache holds at most 1,000 × 16 KiB of text plus the small ASTs of small
// documents. Real clients' documents are a few kilobytes and still skip
// parsing and validation; a larger one is parsed again each time it is
// sent, which the body and token limits keep cheap.
type documentCache struct {
	graphql.Cache[*ast.QueryDocument]
}

// Add implements graphql.Cache.
func (c documentCache) Add(ctx context.Context, query string, doc *ast.QueryDocument) {
	if cacheableDocument(query) {
		c.Cache.Add(ctx, query, doc)
	}
}

// cacheableDocument reports whether a document's text is small enough to
// be kept between requests (by the parsed-query and the APQ caches).
func cacheableDocument(text string) bool {
	return len(text) <= apqMaxBytes
}
