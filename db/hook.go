package db

import (
	"context"
	"sync/atomic"

	"github.com/uptrace/bun"
)

// StatementCounter is a Bun query hook that counts the SQL statements a
// request costs. Attach a counter to a context with WithStatementCount; the
// hook adds to it every statement run under that context (loaders run their
// batches under the request's context, so they count too).
type StatementCounter struct {
	total atomic.Int64
}

var _ bun.QueryHook = (*StatementCounter)(nil)

type counterKey struct{}

// WithStatementCount returns a context that counts its statements in n.
func WithStatementCount(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, counterKey{}, n)
}

// Total is the number of statements run since the hook was installed.
func (h *StatementCounter) Total() int64 { return h.total.Load() }

// BeforeQuery implements bun.QueryHook.
func (h *StatementCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

// AfterQuery implements bun.QueryHook.
func (h *StatementCounter) AfterQuery(ctx context.Context, _ *bun.QueryEvent) {
	h.total.Add(1)
	if n, ok := ctx.Value(counterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}
