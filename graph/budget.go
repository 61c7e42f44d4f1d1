package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/neuronmeet/api/internal/apperr"
)

// execBudget is what one response may still cost once it runs: the
// complexity limit minus the operation's measured cost.
//
// Why: the measure counts a list without `first` as DefaultListSize items,
// but User.rooms without `first` returns every room of the host (thousands,
// for some) and Room.participants a room's whole history. Costed that way,
// 30 aliases of me { rooms { … } } passed every limit and answered 26 MB.
// So a list that returns more items than its cost assumed is charged for
// the rest, at the same per-item cost the measure gave it, before its items
// are resolved; a response that would go over the limit gets
// QUERY_TOO_COMPLEX on that field instead, and the field costs nothing more.
// Lists paged with `first` were costed at their page and are never charged.
type execBudget struct {
	limits Limits
	// limit is the complexity limit the operation was measured against.
	limit int

	mu   sync.Mutex
	left int
}

func newExecBudget(l Limits, limit, staticCost int) *execBudget {
	return &execBudget{limits: l, limit: limit, left: limit - staticCost}
}

type budgetKey struct{}

func withBudget(ctx context.Context, b *execBudget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// budgetFrom returns the response's budget, or nil when nothing limits it
// (no complexity limit, or a context outside a GraphQL response).
func budgetFrom(ctx context.Context) *execBudget {
	b, _ := ctx.Value(budgetKey{}).(*execBudget)
	return b
}

// spend takes cost from the budget, or nothing when it does not fit.
func (b *execBudget) spend(cost int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cost > b.left {
		return false
	}
	b.left -= cost
	return true
}

// trial returns a copy of the budget, for work that may be abandoned and
// redone (the fast path falls back to the generated executor, which must
// start from what the fast path found).
func (b *execBudget) trial() *execBudget {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return &execBudget{limits: b.limits, limit: b.limit, left: b.left}
}

// chargeList charges the response's budget for the n items list field f
// returned beyond the DefaultListSize its cost assumed (lists without
// `first`), at the per-item cost the measure gives f's selection. The list
// resolvers call it after loading a list and before resolving anything
// under it.
func chargeList(ctx context.Context, f graphql.CollectedField, n int) error {
	b := budgetFrom(ctx)
	if b == nil {
		return nil
	}
	m := &measure{limits: b.limits, limit: b.limit, vars: graphql.GetOperationContext(ctx).Variables}
	assumedSize, assumed := m.listSize(f.Field)
	if !assumed || n <= assumedSize {
		return nil
	}
	extra := satMul(n-assumedSize, m.itemCost(f.Selections, 0))
	if m.overBudget || !b.spend(extra) {
		return listTooComplex(f, n, assumedSize, b.limit)
	}
	return nil
}

func listTooComplex(f graphql.CollectedField, n, assumed, limit int) *gqlerror.Error {
	hint := "select less under it"
	if f.Definition != nil && f.Definition.Arguments.ForName("first") != nil {
		hint = "page it with first and after"
	}
	return limitError(apperr.QueryTooComplex, limit,
		"%s returned %d items, more than the %d a list without first is costed at, and they would take the operation over the complexity limit of %d: %s",
		f.Name, n, assumed, limit, hint)
}
