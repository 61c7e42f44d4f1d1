package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/neuronmeet/api/internal/apperr"
)

// Limits bound what one GraphQL request may ask for. Every check runs on
// the parsed, validated document before any resolver, so a rejected
// request costs no SQL statement. Zero disables a limit.
type Limits struct {
	// MaxBodyBytes caps a POST body; larger requests get 413 unread.
	MaxBodyBytes int64
	// MaxTokens caps the lexer's tokens (gqlgen parses without a limit by
	// default), which bounds parse and validation work on hostile documents.
	MaxTokens int
	// MaxDepth caps field nesting (fragments expanded).
	MaxDepth int
	// MaxAliases caps aliased fields (fragments expanded): aliases are how
	// one request repeats an expensive or guarded field.
	MaxAliases int
	// MaxComplexity caps the operation's cost: each field costs 1 plus its
	// children's cost, times `first` for list fields that take it, times
	// DefaultListSize for other lists. A list without `first` that returns
	// more than DefaultListSize items is charged for the rest while the
	// operation runs (see execBudget).
	MaxComplexity   int
	DefaultListSize int
	// MaxSubscriptionComplexity caps a subscription's cost, measured the
	// same way, and with it what resolving each of its events may cost:
	// every event is resolved once per subscriber (a room's host and up to
	// 100 participants), so a subscription gets far less than a query.
	MaxSubscriptionComplexity int
	// MaxSignIns caps register and login fields per request, whatever
	// their aliases: each is a bcrypt run and a credential guess.
	MaxSignIns int
}

// DefaultLimits are the limits unless configured. They admit every query
// the clients send (the largest, me.rooms with every nested field and no
// page size, costs 102,002, and 1,020 per room beyond 100, so it lists up
// to 245 rooms unpaged) with room to spare, and nothing that could make
// one request run for long. A subscription's events are resolved once per
// subscriber, up to 101 in a room (and the host's myRooms feeds): its
// limit of 1,000 admits the fullest roomEvents selection (57) many times
// over and a dashboard's myRooms row (518), and keeps one event's work
// for a full room (101 x 1,000) near one largest query's.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:              256 << 10,
		MaxTokens:                 2000,
		MaxDepth:                  10,
		MaxAliases:                30,
		MaxComplexity:             250000,
		DefaultListSize:           100,
		MaxSubscriptionComplexity: 1000,
		MaxSignIns:                1,
	}
}

func init() {
	// Documents refused before execution are protocol errors: the request
	// is answered 422 (400 for application/graphql-response+json) without
	// data. gqlgen keeps these kinds in an unguarded global map: register
	// them once, before any request can read it.
	for _, c := range []apperr.Code{apperr.QueryTooDeep, apperr.TooManyAliases, apperr.QueryTooComplex, apperr.TooManySignIns, apperr.StreamingTransportRequired, apperr.IntrospectionDisabled, apperr.BadUserInput} {
		errcode.RegisterErrorType(string(c), errcode.KindProtocol)
	}
}

// signInFields are the mutations that check or create credentials.
var signInFields = map[string]bool{"register": true, "login": true}

// limitsExtension enforces Limits (all but the body and token caps, which
// act before parsing) and refuses text with NUL bytes.
type limitsExtension struct{ Limits }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.ResponseInterceptor
} = limitsExtension{}

func (limitsExtension) ExtensionName() string                          { return "Limits" }
func (limitsExtension) Validate(schema graphql.ExecutableSchema) error { return nil }

func (l limitsExtension) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if err := checkNoNUL(opCtx); err != nil {
		return err
	}
	op := opCtx.Operation
	limit := l.complexityLimit(op.Operation)
	m := &measure{limits: l.Limits, limit: limit, vars: opCtx.Variables}
	cost := m.selectionCost(op.SelectionSet, 1, op.Operation == ast.Mutation)
	switch {
	case m.overBudget || (limit > 0 && cost > limit):
		what := "operation"
		if op.Operation == ast.Subscription {
			what = "subscription"
		}
		return limitError(apperr.QueryTooComplex, limit, "%s is too complex: its cost exceeds the limit of %d (lists count as `first` items, or %d without it)", what, limit, l.DefaultListSize)
	case l.MaxDepth > 0 && m.depth > l.MaxDepth:
		return limitError(apperr.QueryTooDeep, l.MaxDepth, "operation is nested %d deep; the limit is %d", m.depth, l.MaxDepth)
	case l.MaxAliases > 0 && m.aliases > l.MaxAliases:
		return limitError(apperr.TooManyAliases, l.MaxAliases, "operation uses %d aliases; the limit is %d", m.aliases, l.MaxAliases)
	case l.MaxSignIns > 0 && m.signIns > l.MaxSignIns:
		return limitError(apperr.TooManySignIns, l.MaxSignIns, "at most %d register or login field per request", l.MaxSignIns)
	}
	opCtx.Stats.SetExtension(staticCostKey, staticCost{cost: cost, limit: limit})
	return nil
}

// complexityLimit is the cost limit of an operation of type op (0: none).
// A subscription is held to the smaller of its own limit and the general one.
func (l Limits) complexityLimit(op ast.Operation) int {
	limit := l.MaxComplexity
	if op == ast.Subscription && l.MaxSubscriptionComplexity > 0 && (limit <= 0 || l.MaxSubscriptionComplexity < limit) {
		limit = l.MaxSubscriptionComplexity
	}
	return limit
}

// staticCost is an operation's measured cost and the limit it was measured
// against, kept in its Stats (under staticCostKey) for InterceptResponse.
type staticCost struct{ cost, limit int }

const staticCostKey = "limits.staticCost"

// InterceptResponse gives each response an execution budget: what the
// complexity limit leaves after the operation's measured cost. A query or
// mutation has one response; a subscription has one per event, and each
// event is resolved afresh, so each gets a budget of its own.
func (l limitsExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if graphql.HasOperationContext(ctx) {
		// Absent when the operation was refused before it was measured.
		if st, ok := graphql.GetOperationContext(ctx).Stats.GetExtension(staticCostKey).(staticCost); ok && st.limit > 0 {
			ctx = withBudget(ctx, newExecBudget(l.Limits, st.limit, st.cost))
		}
	}
	return next(ctx)
}

func limitError(code apperr.Code, limit int, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, string(code))
	err.Extensions["limit"] = limit
	return err
}

// measure walks an operation once, fragments expanded, adding up its cost,
// depth, aliases and sign-in fields.
type measure struct {
	limits Limits
	// limit is the complexity limit the operation is held to (0: none).
	limit      int
	vars       map[string]any
	visited    int
	overBudget bool
	depth      int
	aliases    int
	signIns    int
}

// maxVisits bounds the walk when no complexity limit is set.
const maxVisits = 1 << 20

// selectionCost returns the cost of set at nesting level depth. root is
// true for a mutation's top-level selection.
//
// Fields are merged by response key first, across fragments, as execution
// merges them: `...F ...F` runs F's fields once, so it counts them once.
// The walk gives up once it has visited more fields than the complexity
// limit, since every visited field costs at least 1.
func (m *measure) selectionCost(set ast.SelectionSet, depth int, root bool) int {
	total := 0
	groups := collectFields(set)
	for i := range groups {
		if m.overBudget {
			return total
		}
		total = satAdd(total, m.fieldCost(&groups[i], depth, root))
	}
	return total
}

// fieldGroup is every occurrence of one response key in a selection set:
// first, and the rest (rarely any) in more.
type fieldGroup struct {
	key   string
	first *ast.Field
	more  []*ast.Field
}

// collectFields groups set's fields by response key, expanding fragments.
// Each fragment is expanded once per selection set, as gqlgen does, so
// fragments spreading each other twice over cannot multiply the work.
//
// It runs for every field with a selection of every request, so it looks
// keys up by scanning the groups (selection sets are small; a map per set
// cost two allocations and most of the walk's time) and allocates the
// fragment set only when there is a fragment.
func collectFields(set ast.SelectionSet) []fieldGroup {
	groups := make([]fieldGroup, 0, len(set))
	var seen map[string]bool
	var collect func(set ast.SelectionSet)
	collect = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				key := s.Alias
				if key == "" {
					key = s.Name
				}
				if g := findGroup(groups, key); g != nil {
					g.more = append(g.more, s)
				} else {
					groups = append(groups, fieldGroup{key: key, first: s})
				}
			case *ast.InlineFragment:
				collect(s.SelectionSet)
			case *ast.FragmentSpread:
				if s.Definition != nil && !seen[s.Name] {
					if seen == nil {
						seen = map[string]bool{}
					}
					seen[s.Name] = true
					collect(s.Definition.SelectionSet)
				}
			}
		}
	}
	collect(set)
	return groups
}

// findGroup is groups' group for key, or nil. A hostile document's set of
// thousands of distinct keys makes this quadratic, which the token limit
// (GRAPHQL_MAX_TOKENS) and the complexity walk's visit bound keep small.
func findGroup(groups []fieldGroup, key string) *fieldGroup {
	for i := range groups {
		if groups[i].key == key {
			return &groups[i]
		}
	}
	return nil
}

func (m *measure) fieldCost(g *fieldGroup, depth int, root bool) int {
	f := g.first
	m.visited++
	budget := m.limit
	if budget <= 0 {
		budget = maxVisits
	}
	if m.visited > budget {
		m.overBudget = true
		return 0
	}
	if g.key != f.Name {
		m.aliases++
	}
	if root && signInFields[f.Name] {
		m.signIns++
	}
	if strings.HasPrefix(f.Name, "__") {
		// __typename is a constant; __schema and __type answer from the
		// schema in memory, are off in production, and gqlparser's own
		// introspection-depth rule bounds them.
		return 1
	}
	if depth > m.depth {
		m.depth = depth
	}
	children := f.SelectionSet
	if len(g.more) > 0 {
		children = slices.Clone(children)
		for _, occ := range g.more {
			children = append(children, occ.SelectionSet...)
		}
	}
	cost := m.itemCost(children, depth)
	if f.Definition != nil && f.Definition.Type.Elem != nil {
		n, _ := m.listSize(f)
		cost = satMul(cost, n)
	}
	return satAdd(1, cost)
}

// itemCost is what one value of a field with selection children costs
// (children gathered from every occurrence of the field); a list field
// costs it once per item. The execution budget charges a list's extra
// items with it too (chargeList), so the two agree by construction.
func (m *measure) itemCost(children ast.SelectionSet, depth int) int {
	return m.selectionCost(children, depth+1, false)
}

// listSize is how many items a list field is expected to return: its
// `first` argument when it has one, else the configured default (assumed
// is then true: nothing bounds the answer, so the execution budget checks
// it).
func (m *measure) listSize(f *ast.Field) (n int, assumed bool) {
	if arg := f.Arguments.ForName("first"); arg != nil {
		if v, err := arg.Value.Value(m.vars); err == nil {
			if n, ok := asInt(v); ok && n > 0 {
				return n, false
			}
		}
	}
	return max(m.limits.DefaultListSize, 1), true
}

func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// maxCost caps cost arithmetic: costs multiply along nested lists.
const maxCost = 1 << 40

func satAdd(a, b int) int {
	return min(a+b, maxCost)
}

func satMul(a, b int) int {
	if a != 0 && b > maxCost/a {
		return maxCost
	}
	return min(a*b, maxCost)
}

// checkNoNUL refuses NUL bytes in any string the request carries, in
// variables or in the document's literals. No stored text may contain one
// (PostgreSQL refuses them), so such input is always a client error, and
// catching it here keeps it from ever reaching a query.
func checkNoNUL(opCtx *graphql.OperationContext) *gqlerror.Error {
	for name, v := range opCtx.Variables {
		if path, found := findNUL(v, name); found {
			return nulError(path)
		}
	}
	var walk func(set ast.SelectionSet) string
	seen := map[*ast.FragmentDefinition]bool{}
	walk = func(set ast.SelectionSet) string {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				for _, a := range s.Arguments {
					if path, found := literalNUL(a.Value, a.Name); found {
						return path
					}
				}
				if p := walk(s.SelectionSet); p != "" {
					return p
				}
			case *ast.InlineFragment:
				if p := walk(s.SelectionSet); p != "" {
					return p
				}
			case *ast.FragmentSpread:
				// Literals are the same however often a fragment is spread.
				if s.Definition != nil && !seen[s.Definition] {
					seen[s.Definition] = true
					if p := walk(s.Definition.SelectionSet); p != "" {
						return p
					}
				}
			}
		}
		return ""
	}
	if p := walk(opCtx.Operation.SelectionSet); p != "" {
		return nulError(p)
	}
	return nil
}

func nulError(path string) *gqlerror.Error {
	field := path
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		field = field[i+1:]
	}
	err := gqlerror.Errorf("%s must not contain NUL bytes", path)
	err.Extensions = map[string]any{"code": string(apperr.BadUserInput), "field": field}
	return err
}

func findNUL(v any, path string) (string, bool) {
	switch x := v.(type) {
	case string:
		return path, strings.IndexByte(x, 0) >= 0
	case map[string]any:
		for k, e := range x {
			if p, ok := findNUL(e, path+"."+k); ok {
				return p, true
			}
		}
	case []any:
		for i, e := range x {
			if p, ok := findNUL(e, path+"."+strconv.Itoa(i)); ok {
				return p, true
			}
		}
	}
	return "", false
}

func literalNUL(v *ast.Value, path string) (string, bool) {
	if v == nil {
		return "", false
	}
	if (v.Kind == ast.StringValue || v.Kind == ast.BlockValue) && strings.IndexByte(v.Raw, 0) >= 0 {
		return path, true
	}
	for _, c := range v.Children {
		p := path
		if c.Name != "" {
			p += "." + c.Name
		}
		if p, ok := literalNUL(c.Value, p); ok {
			return p, true
		}
	}
	return "", false
}

// bodyLimit answers 413 to POST bodies over max before gqlgen reads them
// (it reads the whole body into memory). Bodies without a Content-Length
// are read up to max+1 bytes to find out.
func bodyLimit(max int64, next http.Handler) http.Handler {
	if max <= 0 {
		return next
	}
	tooLarge := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{
			"message":    fmt.Sprintf("request body too large: the limit is %d bytes", max),
			"extensions": map[string]any{"code": apperr.PayloadTooLarge, "limit": max},
		}}})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			tooLarge(w)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, max)
			body, err := io.ReadAll(r.Body)
			if err != nil {
				var maxErr *http.MaxBytesError
				if errors.As(err, &maxErr) {
					tooLarge(w)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"errors":[{"message":"could not read request body","extensions":{"code":"` + apperr.BadRequest + `"}}]}`))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}
