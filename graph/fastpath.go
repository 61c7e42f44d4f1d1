package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/internal/metrics"
	"github.com/neuronmeet/api/models"
)

// fastSchema answers the dashboard query, me { rooms { … } }, with a
// selection-driven encoder instead of gqlgen's generic executor, and hands
// every other operation to the generated schema unchanged.
//
// Why: the generic executor costs about a dozen allocations per output
// field (a field context, a derived context, closures, a boxed value, a
// marshaler), so 50 rooms with 400 participants cost ~54,000 allocations
// and made me.rooms five times slower than the REST shim that returns the
// same data.
//
// The encoder decides nothing a resolver decides. Every type it answers
// has a field table (fastfields.go) saying, for each schema field, whether
// the object holds the value and the encoder writes it, or the encoder
// calls the field's resolver in schema.resolvers.go and writes what it
// returns, or the field is left to the executor. A resolver is called with
// the field context gqlgen's generated code builds for it (arguments
// coerced by the generated code, parents, list indexes), so each rule
// lives once, in the resolvers; TestFastPath_TablesDecideEveryField keeps
// the tables in step with the schema and with which fields have resolvers.
//
// It only takes documents it fully understands: a query whose every field
// its tables answer. Anything else (another root field, a field left to
// the executor, introspection) and any error on the way (an argument
// gqlgen's coercion refuses, a resolver's error, a null where the schema
// forbids one) fall back to the generated executor, which then produces
// the normal answer and errors. The fast path only reads, so starting over
// is always safe. Each query offered is counted in
// neuronmeet_graphql_fastpath_total, with the reason when it fell back.
//
// Field middleware (srv.AroundFields, a FieldInterceptor extension) does
// not run for the fields the fast path answers: it would cost the
// allocations per field the fast path exists to save. NewHandler installs
// none; one added there must be checked against this.
//
// With shadow on (HandlerConfig.ShadowFastPath, for tests), every answer is
// also produced by the generated executor and compared byte for byte: a
// difference turns the response into an error and counts in
// FastPathMismatches.
type fastSchema struct {
	// ExecutableSchema answers what the fast path does not, and the shadow.
	graphql.ExecutableSchema
	// es provides the resolvers and the generated field contexts.
	es     *executableSchema
	shadow bool
	log    *slog.Logger
}

func newFastSchema(es graphql.ExecutableSchema, shadow bool, log *slog.Logger) graphql.ExecutableSchema {
	return fastSchema{ExecutableSchema: es, es: es.(*executableSchema), shadow: shadow, log: log}
}

// Why a query fell back, as neuronmeet_graphql_fastpath_total reports it.
const (
	reasonRoot     = "root"     // a root field other than me
	reasonField    = "field"    // a field its table leaves to the executor
	reasonArgument = "argument" // gqlgen's coercion refused an argument
	reasonError    = "error"    // a resolver failed, or answered null for a non-null field
)

// fastPathMismatches counts, process-wide, the shadow's comparisons that
// differed: the end-to-end tests' TestMain fails the run on any.
var fastPathMismatches atomic.Int64

// FastPathMismatches is how many fast-path answers differed from gqlgen's
// executor's since the process started. Only handlers with
// HandlerConfig.ShadowFastPath compare, so elsewhere it stays 0.
func FastPathMismatches() int64 { return fastPathMismatches.Load() }

// Exec implements graphql.ExecutableSchema.
//
// The answer is made when the response handler is first called, as the
// generated executor makes its own, so that it runs inside the response
// middleware (which gives it its execution budget, see execBudget).
func (s fastSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	opCtx := graphql.GetOperationContext(ctx)
	if opCtx == nil || opCtx.Operation == nil || opCtx.Operation.Operation != ast.Query {
		return s.ExecutableSchema.Exec(ctx)
	}
	var next graphql.ResponseHandler
	return func(ctx context.Context) *graphql.Response {
		if next != nil {
			return next(ctx)
		}
		data, reason := s.answer(ctx, opCtx)
		metrics.FastPath(ctx, reason == "", reason)
		if reason != "" {
			next = s.ExecutableSchema.Exec(ctx)
			return next(ctx)
		}
		next = func(context.Context) *graphql.Response { return nil }
		if s.shadow {
			if err := s.compare(ctx, data); err != nil {
				return graphql.ErrorResponse(ctx, "%s", err)
			}
		}
		return &graphql.Response{Data: data}
	}
}

// answer runs the fast path, or says why it fell back. It runs on a copy
// of the budget, so that the executor starts over from what the fast path
// found, and with a response context of its own, so that an error recorded
// on the way (gqlgen's coercion records the arguments it refuses) is the
// executor's to report, once. A panic falls back too, logged: the executor
// then turns a resolver's into the field error it always makes of one,
// and the fast path's own is a bug to see.
func (s fastSchema) answer(ctx context.Context, opCtx *graphql.OperationContext) (data json.RawMessage, reason string) {
	ctx = graphql.WithFreshResponseContext(withBudget(ctx, budgetFrom(ctx).trial()))
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(ctx, "fast path panicked; the executor answers instead", "panic", p)
			data, reason = nil, reasonError
		}
	}()
	ec := newExecutionContext(opCtx, s.es, nil)
	p := &planner{ec: ec, res: fastResolvers{
		query: ec.Resolvers.Query(), user: ec.Resolvers.User(),
		room: ec.Resolvers.Room(), participant: ec.Resolvers.Participant(),
	}}
	root := &graphql.FieldContext{Object: "Query", Child: ec.queryFieldContext}
	write := planObject(p, fastQuery, opCtx.Operation.SelectionSet, root, ctx)
	if write == nil {
		return nil, p.reason
	}
	e := &fastEncoder{b: make([]byte, 0, answerSizeHint())}
	if !write(e, queryRoot{}) {
		return nil, e.reason
	}
	if len(graphql.GetErrors(ctx)) > 0 {
		return nil, reasonError
	}
	lastAnswerSize.Store(int64(len(e.b)))
	return e.b, ""
}

// queryFieldContext is the childFields_Query gqlgen does not generate (its
// root fields build their contexts directly), for the root fields the
// fast path answers.
func (ec *executionContext) queryFieldContext(ctx context.Context, f graphql.CollectedField) (*graphql.FieldContext, error) {
	if f.Name == "me" {
		return ec.fieldContext_Query_me(ctx, f)
	}
	return nil, fmt.Errorf("the fast path has no field context for Query.%s", f.Name)
}

// compare produces the answer again with the generated executor, on a
// fresh copy of the budget, and reports how it differs from fast, if it
// does. Both run over the same per-request loaders, so they read the same
// rows: every byte must agree.
func (s fastSchema) compare(ctx context.Context, fast []byte) error {
	ctx = graphql.WithFreshResponseContext(withBudget(ctx, budgetFrom(ctx).trial()))
	resp := s.ExecutableSchema.Exec(ctx)(ctx)
	var want []byte
	errs := graphql.GetErrors(ctx)
	if resp != nil {
		want = resp.Data
		errs = append(errs, resp.Errors...)
	}
	if bytes.Equal(fast, want) && len(errs) == 0 {
		return nil
	}
	fastPathMismatches.Add(1)
	err := fmt.Errorf("fast path answer differs from gqlgen's executor %s (executor errors: %v)\nfast:     %s\nexecutor: %s",
		firstDifference(fast, want), errs, fast, want)
	s.log.ErrorContext(ctx, "fast path shadow mismatch", "err", err)
	return err
}

// firstDifference says where a and b first differ.
func firstDifference(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return fmt.Sprintf("from byte %d: %.40q vs %.40q", i, a[i:], b[i:])
}

// lastAnswerSize remembers the size of the latest answer: dashboards ask
// the same question over and over, so sizing the next buffer from it saves
// the re-allocations of growing one from scratch.
var lastAnswerSize atomic.Int64

func answerSizeHint() int {
	n := int(lastAnswerSize.Load())
	return min(max(n+n/4, 4<<10), 1<<20)
}

// fieldHow is how the fast path answers a schema field.
type fieldHow int

const (
	// byExecutor leaves the field to gqlgen's executor: a document
	// selecting it falls back whole.
	byExecutor fieldHow = iota
	// byScalar writes a value the object holds (the generated code reads
	// the same struct field).
	byScalar
	// byResolver calls the field's resolver and writes what it returns.
	byResolver
	// byMethod calls the model's method the generated code calls (a
	// connection's nodes and totalCount) and writes what it returns.
	byMethod
	// byHeld writes an object or a list of objects the model holds (a
	// connection's edges and pageInfo), planned as the fields under it
	// need: they may have resolvers.
	byHeld
)

// fastType is one GraphQL object type's field table.
type fastType[T any] struct {
	name      string
	satisfies []string
	// leftReason is why a document selecting a field left to the executor
	// falls back.
	leftReason string
	fields     map[string]fastField[T]
}

func newFastType[T any](name, leftReason string) *fastType[T] {
	return &fastType[T]{name: name, satisfies: []string{name}, leftReason: leftReason}
}

// fastField is one entry of a field table.
type fastField[T any] struct {
	how fieldHow
	// write answers the field of obj (byScalar).
	write writer[T]
	// plan prepares the field's calls (byResolver, byMethod, byHeld): it returns
	// what makes the call for one object and writes the result, or nil
	// when the document must fall back (p.reason says why).
	plan func(p *planner, n fieldNode) writer[T]
}

// writer writes one field (or object) of obj; false means the document
// falls back (e.reason says why).
type writer[T any] func(e *fastEncoder, obj T) bool

// fastResolvers are the executable schema's resolvers, fetched once per
// operation (each accessor allocates).
type fastResolvers struct {
	query       QueryResolver
	user        UserResolver
	room        RoomResolver
	participant ParticipantResolver
}

// queryRoot is the object the root fields are fields of.
type queryRoot struct{}

// resolverCall is a resolver call as the generated code makes it, from the
// field's context (ctx), its coerced arguments and the parent object.
type resolverCall[P, R any] func(r *fastResolvers, ctx context.Context, args map[string]any, obj P) (R, error)

// planner prepares one operation before anything is loaded: for each
// selection set, the fields CollectFields gives (the same for every object
// of the type) and what writes each.
type planner struct {
	ec     *executionContext
	res    fastResolvers
	reason string
}

// fieldNode is a field whose resolver the fast path calls: the collected
// field, the field context gqlgen's generated code builds for it, and the
// context carrying that, to call the resolver with.
type fieldNode struct {
	f   graphql.CollectedField
	fc  *graphql.FieldContext
	ctx context.Context
}

// planObject plans sel on objects of type t. parent is the field context
// of the field sel is under: its Child (generated) builds each selected
// field's context, derived from ctx.
//
// The contexts are built once per field of the document, not per object:
// the encoder writes one object at a time, depth first, and sets the
// Index and Result that differ from one object to the next as it goes, so
// a resolver sees what gqlgen would show it (as long as it does not keep
// its context once it returns).
func planObject[T any](p *planner, t *fastType[T], sel ast.SelectionSet, parent *graphql.FieldContext, ctx context.Context) writer[T] {
	fields := graphql.CollectFields(p.ec.OperationContext, sel, t.satisfies)
	keys := make([][]byte, len(fields))
	writers := make([]writer[T], len(fields))
	for i, f := range fields {
		if i > 0 {
			keys[i] = append(keys[i], ',')
		}
		keys[i] = append(appendString(keys[i], f.Alias), ':')
		if f.Name == "__typename" {
			name := appendString(nil, t.name)
			writers[i] = func(e *fastEncoder, _ T) bool {
				e.b = append(e.b, name...)
				return true
			}
			continue
		}
		switch entry := t.fields[f.Name]; entry.how {
		case byScalar:
			writers[i] = entry.write
		case byResolver, byMethod, byHeld:
			fc, err := parent.Child(ctx, f)
			if err != nil {
				p.reason = reasonArgument
				return nil
			}
			if writers[i] = entry.plan(p, fieldNode{f: f, fc: fc, ctx: graphql.WithFieldContext(ctx, fc)}); writers[i] == nil {
				return nil
			}
		default:
			p.reason = t.leftReason
			return nil
		}
	}
	return func(e *fastEncoder, obj T) bool {
		e.b = append(e.b, '{')
		for i, w := range writers {
			e.b = append(e.b, keys[i]...)
			if !w(e, obj) {
				return false
			}
		}
		e.b = append(e.b, '}')
		return true
	}
}

// planList plans the items of list field n. Each item gets the field
// context gqlgen gives a list item (its index, and the item as result);
// one serves every item, in turn.
func planList[C any](p *planner, t *fastType[*C], n fieldNode) func(e *fastEncoder, list []*C) bool {
	item := &graphql.FieldContext{Index: new(int)}
	write := planObject(p, t, n.f.Selections, n.fc, graphql.WithFieldContext(n.ctx, item))
	if write == nil {
		return nil
	}
	return func(e *fastEncoder, list []*C) bool {
		e.b = append(e.b, '[')
		for i := range list {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			if list[i] == nil {
				return e.fallBack(reasonError)
			}
			*item.Index, item.Result = i, &list[i]
			if !write(e, list[i]) {
				return false
			}
		}
		e.b = append(e.b, ']')
		return true
	}
}

// scalar is a field the object holds, written by write.
func scalar[T any](write func(e *fastEncoder, obj T)) fastField[T] {
	return fastField[T]{how: byScalar, write: func(e *fastEncoder, obj T) bool {
		write(e, obj)
		return true
	}}
}

// resolvedScalar is a scalar field with a resolver: call's result is
// written by write.
func resolvedScalar[P, R any](call resolverCall[P, R], write func(e *fastEncoder, v R)) fastField[P] {
	return calledScalar(byResolver, call, write)
}

// methodScalar is a scalar field the generated code reads from a method
// of the model taking the field's context: call's result is written by
// write.
func methodScalar[P, R any](call func(obj P, ctx context.Context) (R, error), write func(e *fastEncoder, v R)) fastField[P] {
	return calledScalar(byMethod, func(_ *fastResolvers, ctx context.Context, _ map[string]any, obj P) (R, error) {
		return call(obj, ctx)
	}, write)
}

func calledScalar[P, R any](how fieldHow, call resolverCall[P, R], write func(e *fastEncoder, v R)) fastField[P] {
	return fastField[P]{how: how, plan: func(p *planner, n fieldNode) writer[P] {
		r, ctx, args := &p.res, n.ctx, n.fc.Args
		return func(e *fastEncoder, obj P) bool {
			v, err := call(r, ctx, args, obj)
			if err != nil {
				return e.fallBack(reasonError)
			}
			write(e, v)
			return true
		}
	}}
}

// resolvedObject is an object field with a resolver: call's result is
// written as an object of type t (null where the schema allows it).
func resolvedObject[P, C any](t *fastType[*C], call resolverCall[P, *C]) fastField[P] {
	return objectField(byResolver, t, call)
}

// heldObject is an object field the model holds (get reads it), written
// as an object of type t.
func heldObject[P, C any](t *fastType[*C], get func(obj P) *C) fastField[P] {
	return objectField(byHeld, t, func(_ *fastResolvers, _ context.Context, _ map[string]any, obj P) (*C, error) {
		return get(obj), nil
	})
}

func objectField[P, C any](how fieldHow, t *fastType[*C], call resolverCall[P, *C]) fastField[P] {
	return fastField[P]{how: how, plan: func(p *planner, n fieldNode) writer[P] {
		write := planObject(p, t, n.f.Selections, n.fc, n.ctx)
		if write == nil {
			return nil
		}
		r, ctx, args, fc, nonNull := &p.res, n.ctx, n.fc.Args, n.fc, n.f.Definition.Type.NonNull
		return func(e *fastEncoder, obj P) bool {
			v, err := call(r, ctx, args, obj)
			switch {
			case err != nil, v == nil && nonNull:
				return e.fallBack(reasonError)
			case v == nil:
				e.null()
				return true
			}
			fc.Result = v
			return write(e, v)
		}
	}}
}

// resolvedList is a list field with a resolver ([T!]! in the schema):
// call's result is written as a list of objects of type t.
func resolvedList[P, C any](t *fastType[*C], call resolverCall[P, []*C]) fastField[P] {
	return listField(byResolver, t, call)
}

// heldList is a list field ([T!]!) the model holds (get reads it).
func heldList[P, C any](t *fastType[*C], get func(obj P) []*C) fastField[P] {
	return listField(byHeld, t, func(_ *fastResolvers, _ context.Context, _ map[string]any, obj P) ([]*C, error) {
		return get(obj), nil
	})
}

// methodList is a list field ([T!]!) the generated code reads from a
// method of the model (get calls it).
func methodList[P, C any](t *fastType[*C], get func(obj P) []*C) fastField[P] {
	return listField(byMethod, t, func(_ *fastResolvers, _ context.Context, _ map[string]any, obj P) ([]*C, error) {
		return get(obj), nil
	})
}

func listField[P, C any](how fieldHow, t *fastType[*C], call resolverCall[P, []*C]) fastField[P] {
	return fastField[P]{how: how, plan: func(p *planner, n fieldNode) writer[P] {
		write := planList(p, t, n)
		if write == nil {
			return nil
		}
		r, ctx, args, fc := &p.res, n.ctx, n.fc.Args, n.fc
		return func(e *fastEncoder, obj P) bool {
			list, err := call(r, ctx, args, obj)
			if err != nil {
				return e.fallBack(reasonError)
			}
			fc.Result = list
			return write(e, list)
		}
	}}
}

// fastEncoder is one answer being written.
type fastEncoder struct {
	b []byte
	// reason is why the document falls back, once a writer said so.
	reason string
}

func (e *fastEncoder) fallBack(reason string) bool {
	e.reason = reason
	return false
}

func (e *fastEncoder) null() { e.b = append(e.b, "null"...) }

func (e *fastEncoder) bool(v bool) { e.b = strconv.AppendBool(e.b, v) }

func (e *fastEncoder) int(v int) { e.b = strconv.AppendInt(e.b, int64(v), 10) }

func (e *fastEncoder) time(t time.Time) {
	e.b = append(e.b, '"')
	e.b = models.AppendTime(e.b, t)
	e.b = append(e.b, '"')
}

func (e *fastEncoder) optTime(t *time.Time) {
	if t == nil {
		e.null()
		return
	}
	e.time(*t)
}

func (e *fastEncoder) str(s string) { e.b = appendString(e.b, s) }

func (e *fastEncoder) optStr(s *string) {
	if s == nil {
		e.null()
		return
	}
	e.str(*s)
}

// appendString appends s quoted exactly as gqlgen's string marshaller
// writes it: only quotes, backslashes and control characters are escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, `\t`...)
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			b = append(b, `\n`...)
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
