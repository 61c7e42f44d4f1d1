package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/uptrace/bun"
	gqlparser "github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/metrics"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// The fast path must be invisible: for every document, the bytes a client
// receives are the ones gqlgen's generated executor produces. The fast
// handler runs with the shadow on, which compares every answer too.
func TestFastPath_MatchesGeneratedExecutor(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		env := newFastPathEnv(t, bdb, Limits{})
		host, other, roomIDs := seedFastPathData(t, env)
		env.clock.stop()
		hostToken, _ := env.tokens.IssueUser(host, "")
		otherToken, _ := env.tokens.IssueUser(other, "")

		type doc struct {
			name, query string
			vars        map[string]any
			token       string
			// outcome is how the fast path took it: answered, fell back
			// (and why), or never offered it.
			outcome string
		}
		docs := []doc{
			{name: "every field", outcome: answered, query: `{ me { id email name displayName avatarUrl createdAt rooms {
				id code name hostId isActive isLocked startedAt endedAt createdAt updatedAt
				host { id email name displayName avatarUrl createdAt }
				settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants allowParticipantVideo allowParticipantAudio }
				participants { id roomId userId guestName displayName isActive isHost joinedAt leftAt
					user { id email name displayName avatarUrl createdAt } } } } }`},
			{name: "aliases and typenames", outcome: answered, query: `{ __typename who: me { __typename i: id rooms { __typename n: name s: settings { __typename c: allowChat } p: participants { __typename d: displayName u: user { __typename id } } } } }`},
			{name: "fragments", outcome: answered, query: `query Q { me { ...U } } fragment U on User { id rooms { ...R ... on Room { code } } } fragment R on Room { id settings { ... on RoomSettings { maxParticipants } } participants(activeOnly: true) { ...P } } fragment P on Participant { id isActive }`},
			{name: "skip and include", outcome: answered, vars: map[string]any{"yes": true, "no": false}, query: `query($yes: Boolean!, $no: Boolean!) { me { id @skip(if: $yes) displayName @include(if: $yes) rooms { id @include(if: $no) name participants @skip(if: $no) { id } settings @skip(if: $yes) { allowChat } } } }`},
			{name: "merged duplicate fields", outcome: answered, query: `{ me { id id rooms { id } rooms { name participants { id } participants { isHost } } } }`},
			{name: "aliases of me", outcome: answered, query: `{ a: me { id } b: me { rooms(first: 1) { id } } }`},
			{name: "status active", outcome: answered, query: `{ me { rooms(status: ACTIVE) { id isActive } } }`},
			{name: "status ended", outcome: answered, query: `{ me { rooms(status: ENDED) { id endedAt participants { leftAt } } } }`},
			{name: "status by variable", outcome: answered, vars: map[string]any{"s": "ENDED"}, query: `query($s: RoomStatus) { me { rooms(status: $s) { id } } }`},
			{name: "first page", outcome: answered, query: `{ me { rooms(first: 2) { id } } }`},
			{name: "second page by variables", outcome: answered, vars: map[string]any{"n": 2, "after": roomIDs[1]}, query: `query($n: Int, $after: ID) { me { rooms(first: $n, after: $after) { id name } } }`},
			{name: "active only by variable", outcome: answered, vars: map[string]any{"a": true}, query: `query($a: Boolean) { me { rooms { participants(activeOnly: $a) { id } } } }`},
			{name: "active only null is the default", outcome: answered, vars: map[string]any{"a": nil}, query: `query($a: Boolean) { me { rooms { participants(activeOnly: $a) { id } } } }`},
			{name: "another user sees only their own rooms", outcome: answered, token: otherToken, query: `{ me { email rooms { id } } }`},
			{name: "the viewer's rooms under their rooms' host", outcome: answered, query: `{ me { rooms { host { rooms(first: 1) { id } } } } }`},
			{name: "the dashboard's connection", outcome: answered, query: `{ me { roomsConnection(first: 2) { totalCount
				pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
				edges { cursor node { id name stats { peakParticipants uniqueParticipants lastActivityAt } participants { id displayName } } }
				nodes { id settings { allowChat } host { displayName } } } } }`},
			{name: "a connection ordered and filtered by variables", outcome: answered,
				vars:  map[string]any{"o": map[string]any{"field": "NAME", "direction": "ASC"}, "f": map[string]any{"status": "ALL", "search": "o"}},
				query: `query($o: RoomOrder, $f: RoomFilter) { me { roomsConnection(first: 1, orderBy: $o, filter: $f) { totalCount nodes { name } pageInfo { hasNextPage endCursor } } } }`},
			{name: "a connection's bad cursor falls back to the error", outcome: fellBack(reasonError), query: `{ me { roomsConnection(first: 2, after: "nope") { nodes { id } } } }`},
			{name: "attended falls back", outcome: fellBack(reasonField), query: `{ me { attended(first: 2) { nodes { id } } } }`},
			{name: "stats", outcome: answered, query: `{ me { rooms { id stats { activeParticipants peakParticipants uniqueParticipants totalJoins participantSeconds durationSeconds lastActivityAt } } } }`},
			{name: "bad first falls back to the error", outcome: fellBack(reasonError), query: `{ me { rooms(first: 0) { id } } }`},
			{name: "bad cursor falls back to the error", outcome: fellBack(reasonError), vars: map[string]any{"after": "nope"}, query: `query($after: ID) { me { rooms(after: $after) { id } } }`},
			{name: "unauthenticated falls back", outcome: fellBack(reasonError), token: "-", query: `{ me { id rooms { id } } }`},
			{name: "another user's rooms fall back to the refusal", outcome: fellBack(reasonError), query: `{ me { rooms(first: 2) { participants { user { rooms { id } } } } } }`},
			{name: "other root fields fall back", outcome: fellBack(reasonRoot), vars: map[string]any{"id": roomIDs[0]}, query: `query($id: ID!) { me { id } room(id: $id) { id name } }`},
			{name: "introspection falls back", outcome: fellBack(reasonRoot), query: `{ me { id } __type(name: "Room") { name } }`},
			{name: "validation errors are untouched", outcome: notOffered, query: `{ me { rooms { nope } } }`},
		}
		for _, d := range docs {
			t.Run(d.name, func(t *testing.T) {
				token := d.token
				switch token {
				case "":
					token = hostToken
				case "-":
					token = ""
				}
				want := post(t, env.generic, token, d.query, d.vars)
				mismatches := FastPathMismatches()
				before := fastPathCounts(t, env.metrics)
				got := post(t, env.fast, token, d.query, d.vars)
				if outcome := fastPathOutcome(t, before, fastPathCounts(t, env.metrics)); outcome != d.outcome {
					t.Errorf("fast path outcome %q, want %q", outcome, d.outcome)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("fast path answer differs from the generated executor's\n fast: %s\n want: %s", got, want)
				}
				if d.outcome == answered && bytes.Contains(got, []byte(`"errors"`)) {
					t.Errorf("an eligible document produced errors: %s", got)
				}
				if n := FastPathMismatches() - mismatches; n != 0 {
					t.Errorf("the shadow counted %d mismatches", n)
				}
			})
		}
	})
}

// What a resolver returns is what the fast path writes: resolvers that
// answer other than the real ones (another list, another name, a null)
// show in the fast path's answer, for every field that has a resolver.
func TestFastPath_WritesWhatTheResolversReturn(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		env := newFastPathEnv(t, bdb, Limits{})
		host, _, _ := seedFastPathData(t, env)
		token, _ := env.tokens.IssueUser(host, "")
		real := &Resolver{Service: env.svc}
		h := env.serve(newFastSchema(NewExecutableSchema(Config{Resolvers: changedResolvers{real}}), true, env.log))

		const query = `{ me { email rooms { name host { email } settings { maxParticipants }
			participants { displayName user { id } } } } }`
		mismatches := FastPathMismatches()
		before := fastPathCounts(t, env.metrics)
		got := post(t, h, token, query, nil)
		if outcome := fastPathOutcome(t, before, fastPathCounts(t, env.metrics)); outcome != answered {
			t.Fatalf("fast path outcome %q, want %q: %s", outcome, answered, got)
		}
		if n := FastPathMismatches() - mismatches; n != 0 {
			t.Errorf("the shadow counted %d mismatches: %s", n, got)
		}
		// Me and Rooms are the real ones; the rest changed.
		want := `{"data":{"me":{"email":"changed@example.com","rooms":[{"name":"Empty","host":{"email":"changed@example.com"},` +
			`"settings":{"maxParticipants":7},"participants":[{"displayName":"changed","user":null}]}]}}}`
		if string(got) != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}

// A resolver that panics on the fast path sends the document to the
// executor, which answers it exactly as it answers without the fast path:
// with the field error it makes of a panic.
func TestFastPath_APanickingResolverFallsBackToTheExecutorsAnswer(t *testing.T) {
	env := newFastPathEnv(t, dbtest.Open(t, "sqlite"), Limits{})
	host, _, _ := seedFastPathData(t, env)
	token, _ := env.tokens.IssueUser(host, "")
	root := panickingResolvers{&Resolver{Service: env.svc}}
	fast := env.serve(newFastSchema(NewExecutableSchema(Config{Resolvers: root}), true, env.log))
	generic := env.serve(NewExecutableSchema(Config{Resolvers: root}))

	const query = `{ me { rooms(first: 1) { id settings { allowChat } } } }`
	want := post(t, generic, token, query, nil)
	before := fastPathCounts(t, env.metrics)
	got := post(t, fast, token, query, nil)
	if outcome := fastPathOutcome(t, before, fastPathCounts(t, env.metrics)); outcome != fellBack(reasonError) {
		t.Errorf("fast path outcome %q, want %q", outcome, fellBack(reasonError))
	}
	if !bytes.Equal(got, want) || !bytes.Contains(got, []byte(`"INTERNAL_SERVER_ERROR"`)) {
		t.Errorf("fast path answered %s\nexecutor answered %s", got, want)
	}
}

type panickingResolvers struct{ *Resolver }

func (r panickingResolvers) Room() RoomResolver { return panickingRoom{r.Resolver.Room()} }

type panickingRoom struct{ RoomResolver }

func (panickingRoom) Settings(context.Context, *models.Room) (*models.RoomSettings, error) {
	panic("settings exploded")
}

// changedResolvers answer like the real ones except where they say
// otherwise: each field with a resolver answers something the real one
// never would (the newest room only; a settings copy; one participant,
// whose user is gone and whose name is "changed").
type changedResolvers struct{ *Resolver }

func (r changedResolvers) User() UserResolver { return changedUser{r.Resolver.User()} }
func (r changedResolvers) Room() RoomResolver { return changedRoom{r.Resolver.Room()} }
func (r changedResolvers) Participant() ParticipantResolver {
	return changedParticipant{r.Resolver.Participant()}
}

type changedUser struct{ UserResolver }

func (changedUser) Email(context.Context, *models.User) (*string, error) {
	email := "changed@example.com"
	return &email, nil
}

func (u changedUser) Rooms(ctx context.Context, obj *models.User, status *service.RoomStatus, first *int, after *string) ([]*models.Room, error) {
	rooms, err := u.UserResolver.Rooms(ctx, obj, status, first, after)
	return rooms[:min(1, len(rooms))], err
}

type changedRoom struct{ RoomResolver }

func (r changedRoom) Settings(ctx context.Context, obj *models.Room) (*models.RoomSettings, error) {
	s, err := r.RoomResolver.Settings(ctx, obj)
	if err != nil {
		return nil, err
	}
	changed := *s
	changed.MaxParticipants = 7
	return &changed, nil
}

func (changedRoom) Participants(_ context.Context, obj *models.Room, _ *bool) ([]*models.Participant, error) {
	gone := "gone"
	return []*models.Participant{{ID: "p", RoomID: obj.ID, UserID: &gone}}, nil
}

type changedParticipant struct{ ParticipantResolver }

func (changedParticipant) User(context.Context, *models.Participant) (*models.User, error) {
	return nil, nil
}

func (changedParticipant) DisplayName(context.Context, *models.Participant) (string, error) {
	return "changed", nil
}

// Every field of every type the fast path can reach from me is decided:
// written from the model only where the generated code reads the model,
// through its resolver wherever there is one, or left to the executor. A
// field added to the schema without a decision fails here, not silently
// at run time.
func TestFastPath_TablesDecideEveryField(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	tables := fastPathTables()
	if problems := tableProblems(schema, tables); len(problems) > 0 {
		t.Errorf("the fast path's field tables disagree with the schema:\n%s", strings.Join(problems, "\n"))
	}

	t.Run("a field missing from its table is reported", func(t *testing.T) {
		tables := fastPathTables()
		delete(tables["Participant"], "leftAt")
		if problems := tableProblems(schema, tables); !slices.Contains(problems, "Participant.leftAt: its table does not decide about it") {
			t.Errorf("problems: %q", problems)
		}
	})
	t.Run("a field added to the schema is reported", func(t *testing.T) {
		grown := gqlparser.MustLoadSchema(append(slices.Clone(sources), &ast.Source{Name: "grown.graphqls", Input: "extend type RoomSettings { recordingUrl: String }"})...)
		if problems := tableProblems(grown, fastPathTables()); !slices.Contains(problems, "RoomSettings.recordingUrl: its table does not decide about it") {
			t.Errorf("problems: %q", problems)
		}
	})
	t.Run("a resolver field written from the model is reported", func(t *testing.T) {
		tables := fastPathTables()
		tables["Participant"]["displayName"] = byScalar
		if problems := tableProblems(schema, tables); !slices.Contains(problems, "Participant.displayName: written from the model, but the generated code calls a resolver") {
			t.Errorf("problems: %q", problems)
		}
	})
}

func fastPathTables() map[string]map[string]fieldHow {
	return map[string]map[string]fieldHow{
		fastQuery.name: fastQuery.decisions(), fastUser.name: fastUser.decisions(), fastRoom.name: fastRoom.decisions(),
		fastSettings.name: fastSettings.decisions(), fastParticipant.name: fastParticipant.decisions(),
		fastRoomStats.name: fastRoomStats.decisions(), fastConnection.name: fastConnection.decisions(),
		fastEdge.name: fastEdge.decisions(), fastPageInfo.name: fastPageInfo.decisions(),
	}
}

// decisions is the table without its Go types.
func (t *fastType[T]) decisions() map[string]fieldHow {
	out := make(map[string]fieldHow, len(t.fields))
	for name, f := range t.fields {
		out[name] = f.how
	}
	return out
}

// tableProblems walks schema from Query through every field the tables
// answer, and lists where they disagree with the schema or with the field
// contexts gqlgen's generated code builds (which say whether a field has
// a resolver).
func tableProblems(schema *ast.Schema, tables map[string]map[string]fieldHow) []string {
	es := NewExecutableSchema(Config{Resolvers: &Resolver{}}).(*executableSchema)
	ec := newExecutionContext(&graphql.OperationContext{RecoverFunc: graphql.DefaultRecover}, es, nil)
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	var problems []string
	seen := map[string]bool{}
	var visit func(typ string, child func(context.Context, graphql.CollectedField) (*graphql.FieldContext, error))
	visit = func(typ string, child func(context.Context, graphql.CollectedField) (*graphql.FieldContext, error)) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		def, decided := schema.Types[typ], tables[typ]
		if decided == nil {
			problems = append(problems, typ+": reachable from me, but has no field table")
			return
		}
		for _, fd := range def.Fields {
			how, ok := decided[fd.Name]
			switch {
			case strings.HasPrefix(fd.Name, "__") && typ != "Query":
				continue // __typename, which every object answers
			case !ok:
				problems = append(problems, fmt.Sprintf("%s.%s: its table does not decide about it", typ, fd.Name))
				continue
			case how == byExecutor:
				continue
			}
			fc, err := child(ctx, graphql.CollectedField{Field: &ast.Field{Name: fd.Name, Alias: fd.Name, Definition: fd}})
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("%s.%s: no field context: %v", typ, fd.Name, err))
				continue
			case how == byScalar && fc.IsResolver:
				problems = append(problems, fmt.Sprintf("%s.%s: written from the model, but the generated code calls a resolver", typ, fd.Name))
			case how == byScalar && fc.IsMethod:
				problems = append(problems, fmt.Sprintf("%s.%s: written from the model, but the generated code calls a method", typ, fd.Name))
			case how == byResolver && !fc.IsResolver:
				problems = append(problems, fmt.Sprintf("%s.%s: called as a resolver, but the generated code has none", typ, fd.Name))
			case how == byMethod && (fc.IsResolver || !fc.IsMethod):
				problems = append(problems, fmt.Sprintf("%s.%s: called as the model's method, but the generated code calls none", typ, fd.Name))
			case how == byHeld && (fc.IsResolver || fc.IsMethod):
				problems = append(problems, fmt.Sprintf("%s.%s: read from the model, but the generated code calls a resolver or a method", typ, fd.Name))
			}
			if inner := schema.Types[fd.Type.Name()]; inner.Kind == ast.Object {
				visit(inner.Name, fc.Child)
			}
		}
		for name := range decided {
			if def.Fields.ForName(name) == nil {
				problems = append(problems, fmt.Sprintf("%s.%s: decided, but not in the schema", typ, name))
			}
		}
	}
	visit("Query", ec.queryFieldContext)
	slices.Sort(problems)
	return problems
}

// With the shadow on, an answer the fast path writes differently from the
// generated executor (here, a display name written upper case) reaches
// the client as an error, and counts as a mismatch.
func TestFastPath_ShadowTurnsADifferenceIntoAnError(t *testing.T) {
	env := newFastPathEnv(t, dbtest.Open(t, "sqlite"), Limits{})
	host, _, _ := seedFastPathData(t, env)
	token, _ := env.tokens.IssueUser(host, "")
	const query = `{ me { id displayName } }`
	if got := post(t, env.fast, token, query, nil); bytes.Contains(got, []byte(`"errors"`)) {
		t.Fatalf("before the change: %s", got)
	}

	// No test here runs in parallel, so changing the table for this one
	// changes nothing for the others.
	real := fastUser.fields["displayName"]
	t.Cleanup(func() { fastUser.fields["displayName"] = real })
	fastUser.fields["displayName"] = scalar(func(e *fastEncoder, u *models.User) { e.str(strings.ToUpper(u.DisplayName)) })
	mismatches := FastPathMismatches()
	var res struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.Unmarshal(post(t, env.fast, token, query, nil), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, "differs from gqlgen's executor") || string(res.Data) != "null" {
		t.Errorf("answer with a differing fast path: data %s, errors %+v", res.Data, res.Errors)
	}
	if n := FastPathMismatches() - mismatches; n != 1 {
		t.Errorf("%d mismatches counted, want 1", n)
	}
	// Without the shadow the difference goes unnoticed: that is what the
	// shadow is for.
	quiet := env.serve(newFastSchema(NewExecutableSchema(Config{Resolvers: &Resolver{Service: env.svc}}), false, env.log))
	if got := post(t, quiet, token, query, nil); !bytes.Contains(got, []byte(`"HOST \"THE <BOSS>\" & CO"`)) {
		t.Errorf("without the shadow: %s", got)
	}
}

// fastPathEnv is a fast handler (NewHandler, shadow on, behind the auth
// and metrics middleware as the app serves it) and a plain handler over
// the generated executor alone, sharing one service.
type fastPathEnv struct {
	db      *bun.DB
	svc     *service.Service
	tokens  *auth.Tokens
	log     *slog.Logger
	limits  Limits
	clock   *fastPathClock
	metrics *metrics.Metrics
	fast    http.Handler
	generic http.Handler
}

func newFastPathEnv(t *testing.T, bdb *bun.DB, limits Limits) *fastPathEnv {
	t.Helper()
	tokens := auth.NewTokens([]byte("fast-path-test-secret-32-bytes!!"), time.Hour)
	passwords, err := auth.NewPasswords(4)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fastPathClock{at: time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)}
	env := &fastPathEnv{
		db: bdb, svc: service.New(service.Deps{DB: bdb, Tokens: tokens, Passwords: passwords, Now: clock.now}), tokens: tokens, limits: limits,
		clock: clock,
		log:   slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: metrics.New(nil),
	}
	env.fast = env.metrics.Middleware(nil)(wrap(tokens, NewHandler(env.svc, env.log, HandlerConfig{Limits: limits, ShadowFastPath: true})))
	env.generic = env.serve(NewExecutableSchema(Config{Resolvers: &Resolver{Service: env.svc}}))
	return env
}

// fastPathClock is the service's clock in these tests: a millisecond
// later at each reading while the data is written, then stopped, so that
// statistics that grow with the clock (participantSeconds of an active
// room) are the same for the fast path and for the executor it is
// compared with.
type fastPathClock struct {
	mu      sync.Mutex
	at      time.Time
	stopped bool
}

func (c *fastPathClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		c.at = c.at.Add(time.Millisecond)
	}
	return c.at
}

func (c *fastPathClock) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
}

// serve is es behind what NewHandler puts around a plain POST query
// outside production: introspection, the limits, loaders, error presenter
// and panic recovery; then auth and metrics.
func (env *fastPathEnv) serve(es graphql.ExecutableSchema) http.Handler {
	srv := handler.New(es)
	srv.AddTransport(postTransport{})
	srv.Use(extension.Introspection{})
	srv.Use(limitsExtension{env.limits})
	srv.SetErrorPresenter(errorPresenter(env.log))
	srv.SetRecoverFunc(recoverFunc(env.log))
	srv.AroundResponses(withLoaders(env.svc))
	return env.metrics.Middleware(nil)(wrap(env.tokens, srv))
}

// The outcomes fastPathOutcome reports.
const (
	answered   = "answered"
	notOffered = "not offered"
)

func fellBack(reason string) string { return "fell_back " + reason }

var fastPathSeries = regexp.MustCompile(`^neuronmeet_graphql_fastpath_total\{outcome="(\w+)",reason="(\w*)"\} (\S+)$`)

// fastPathCounts reads neuronmeet_graphql_fastpath_total from m's
// exposition, by outcome and reason ("answered ", "fell_back field").
func fastPathCounts(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	counts := map[string]float64{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if s := fastPathSeries.FindStringSubmatch(line); s != nil {
			n, err := strconv.ParseFloat(s[3], 64)
			if err != nil {
				t.Fatalf("metric line %q", line)
			}
			counts[s[1]+" "+s[2]] = n
		}
	}
	return counts
}

// fastPathOutcome is what one request did to the counts: answered, fell
// back for a reason, or not offered (the counts did not move).
func fastPathOutcome(t *testing.T, before, after map[string]float64) string {
	t.Helper()
	var moved []string
	for k, n := range after {
		if n != before[k] {
			moved = append(moved, strings.TrimSpace(k))
		}
	}
	switch len(moved) {
	case 0:
		return notOffered
	case 1:
		return moved[0]
	}
	t.Fatalf("one request moved several counts: %v", moved)
	return ""
}

func wrap(tokens *auth.Tokens, h http.Handler) http.Handler {
	return auth.Middleware(tokens)(h)
}

func post(t *testing.T, h http.Handler, token, query string, vars map[string]any) []byte {
	t.Helper()
	_, body := postStatus(t, h, token, query, vars)
	return body
}

func postStatus(t *testing.T, h http.Handler, token, query string, vars map[string]any) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// seedFastPathData creates a host with four rooms (one ended, one empty),
// a second user, and guests whose names need escaping. Names with control
// characters are refused today but may be stored (rows from before the
// rule, the legacy service's), so they are written straight to the rows.
func seedFastPathData(t *testing.T, env *fastPathEnv) (hostID, otherID string, roomIDs []string) {
	t.Helper()
	ctx := context.Background()
	svc := env.svc
	store := func(table, column, id, value string) {
		if _, err := env.db.NewUpdate().Table(table).Set(column+" = ?", value).Where("id = ?", id).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	reg := func(email, name string) string {
		res, err := svc.Register(ctx, service.RegisterInput{Email: email, Password: "correct-horse", DisplayName: "Someone"})
		if err != nil {
			t.Fatal(err)
		}
		store("users", "display_name", res.User.ID, name)
		return res.User.ID
	}
	hostID = reg("host@example.com", `Host "the <boss>" & co`)
	otherID = reg("other@example.com", "Other\tUser ✓")
	hostCtx := auth.WithPrincipal(ctx, &auth.Principal{UserID: hostID})
	otherCtx := auth.WithPrincipal(ctx, &auth.Principal{UserID: otherID})
	guests := []string{"Gäst \"one\"", "line\nbreak \\ back", "\u0001control"}
	for i := 0; i < 4; i++ {
		name := []string{"Standup", "Review \"Q3\"", "Ünïcode ☃", "Empty"}[i]
		room, err := svc.CreateRoom(hostCtx, service.CreateRoomInput{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		roomIDs = append([]string{room.Room.ID}, roomIDs...)
		if i == 3 {
			continue
		}
		for _, c := range []context.Context{hostCtx, otherCtx} {
			if _, err := svc.JoinRoom(c, room.Room.Code, nil); err != nil {
				t.Fatal(err)
			}
		}
		joined, err := svc.JoinRoom(ctx, room.Room.Code, new("Guest"))
		if err != nil {
			t.Fatal(err)
		}
		store("participants", "guest_name", joined.Participant.ID, guests[i])
		if i == 1 {
			guestCtx := auth.WithPrincipal(ctx, &auth.Principal{ParticipantID: joined.Participant.ID, RoomID: room.Room.ID})
			if _, err := svc.LeaveRoom(guestCtx, joined.Participant.ID); err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			if _, err := svc.EndRoom(hostCtx, room.Room.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return hostID, otherID, roomIDs
}

// Lists longer than their cost assumed are charged on both paths alike:
// what fits is answered by the fast path with every item, and what does
// not is refused with the generated executor's exact answer and status.
func TestFastPath_AgreesWithGeneratedExecutorOnExecutionBudget(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		// Lists without first count 5 items; a response may cost 15.
		env := newFastPathEnv(t, bdb, Limits{DefaultListSize: 5, MaxComplexity: 15})
		host := seedLongLists(t, env.svc, 8, 8)
		hostToken, _ := env.tokens.IssueUser(host, "")
		for _, d := range []struct {
			name, query string
			fits        bool
		}{
			// me 1 + rooms (1 + 5 × id): 7, and 3 more rooms: 10.
			{"every room, within the budget", `{ me { rooms { id } } }`, true},
			// me 1 + rooms (1 + 5 × 2): 12, and 3 more rooms at 2: 18.
			{"every room, over the budget", `{ me { rooms { id name } } }`, false},
			// me 1 + rooms (1 + 1 × participants (1 + 5 × 2)): 13, and 3
			// more participants at 2: 19.
			{"every participant, over the budget", `{ me { rooms(first: 1) { participants { id isHost } } } }`, false},
			{"a page is never charged", `{ me { rooms(first: 2) { id name } } }`, true},
		} {
			t.Run(d.name, func(t *testing.T) {
				wantStatus, want := postStatus(t, env.generic, hostToken, d.query, nil)
				before := fastPathCounts(t, env.metrics)
				gotStatus, got := postStatus(t, env.fast, hostToken, d.query, nil)
				wantOutcome := map[bool]string{true: answered, false: fellBack(reasonError)}[d.fits]
				if outcome := fastPathOutcome(t, before, fastPathCounts(t, env.metrics)); outcome != wantOutcome {
					t.Errorf("fast path outcome %q, want %q", outcome, wantOutcome)
				}
				if gotStatus != wantStatus || !bytes.Equal(got, want) {
					t.Errorf("fast path: HTTP %d %s\ngenerated: HTTP %d %s", gotStatus, got, wantStatus, want)
				}
				refused := bytes.Contains(want, []byte(`"QUERY_TOO_COMPLEX"`))
				if refused == d.fits || wantStatus != http.StatusOK {
					t.Errorf("HTTP %d %s; want it %s", wantStatus, want, map[bool]string{true: "served", false: "refused"}[d.fits])
				}
			})
		}
	})
}

// seedLongLists creates a host with rooms rooms, the newest of which has
// had participants guests.
func seedLongLists(t *testing.T, svc *service.Service, rooms, participants int) (hostID string) {
	t.Helper()
	ctx := context.Background()
	res, err := svc.Register(ctx, service.RegisterInput{Email: "host@example.com", Password: "correct-horse", DisplayName: "Host"})
	if err != nil {
		t.Fatal(err)
	}
	hostCtx := auth.WithPrincipal(ctx, &auth.Principal{UserID: res.User.ID})
	var code string
	for range rooms {
		room, err := svc.CreateRoom(hostCtx, service.CreateRoomInput{})
		if err != nil {
			t.Fatal(err)
		}
		code = room.Room.Code
	}
	for i := range participants {
		name := fmt.Sprintf("Guest %d", i)
		if _, err := svc.JoinRoom(ctx, code, &name); err != nil {
			t.Fatal(err)
		}
	}
	return res.User.ID
}
