package graph

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/service"
)

// The parsed-query cache keeps documents up to the APQ bound and forgets
// anything larger.
func TestDocumentCache_KeepsSmallDocumentsOnly(t *testing.T) {
	ctx := context.Background()
	c := documentCache{lru.New[*ast.QueryDocument](10)}
	doc := &ast.QueryDocument{}
	atLimit := "{ __typename }" + strings.Repeat(" ", apqMaxBytes-len("{ __typename }"))
	over := atLimit + " "
	c.Add(ctx, atLimit, doc)
	c.Add(ctx, over, doc)
	if _, ok := c.Get(ctx, atLimit); !ok {
		t.Errorf("a document of exactly %d bytes was not kept", apqMaxBytes)
	}
	if _, ok := c.Get(ctx, over); ok {
		t.Errorf("a document of %d bytes was kept", len(over))
	}
}

// Distinct large documents (valid, so gqlgen would cache them) are served
// and then let go: a hundred 250 KB documents leave the heap as it was,
// where an unbounded cache would pin 25 MB of them.
func TestHandler_DoesNotRetainLargeDocuments(t *testing.T) {
	tokens := auth.NewTokens([]byte("query-cache-test-secret-32-bytes"), time.Hour)
	svc := service.New(service.Deps{DB: dbtest.Open(t, "sqlite"), Tokens: tokens})
	h := wrap(tokens, NewHandler(svc, slog.New(slog.NewTextHandler(io.Discard, nil)), HandlerConfig{}))
	const docs, size = 100, 250 << 10
	pad := strings.Repeat("x", size)
	send := func(i int) {
		q := fmt.Sprintf("{ __typename } # %d %s", i, pad)
		if got := string(post(t, h, "", q, nil)); got != `{"data":{"__typename":"Query"}}` {
			t.Fatalf("document %d answered %s", i, got)
		}
	}
	send(-1) // warm up: the first request allocates what every one shares
	before := heapInUse()
	for i := range docs {
		send(i)
	}
	grown := heapInUse() - before
	t.Logf("heap grew by %d KB after %d distinct %d KB documents", grown>>10, docs, size>>10)
	if grown > docs*size/4 {
		t.Errorf("the heap grew by %d MB after %d distinct %d KB documents: they are being kept", grown>>20, docs, size>>10)
	}
	runtime.KeepAlive(h)
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
