package graph

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/internal/service"
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
// same data. This encoder walks the same collected fields gqlgen would
// (fragments, aliases, @skip/@include and field merging included), loads
// through the same service calls and per-request loaders, and writes the
// same bytes; TestFastPath_MatchesGeneratedExecutor checks that for a corpus
// of documents by running each through both paths.
//
// It only takes documents it fully understands: a query whose root fields
// are me and __typename, selecting fields it knows. Anything else (another
// root field, an unknown field, introspection) and any error on the way
// (an invalid argument, a missing token, a vanished row) fall back to the
// generated executor, which then produces the normal answer and errors. The
// fast path only reads, so starting over is always safe.
type fastSchema struct {
	graphql.ExecutableSchema
	r *Resolver
}

// fastPathAnswers counts operations the fast path answered (tests read it
// to know a document really took that path).
var fastPathAnswers atomic.Int64

func newFastSchema(es graphql.ExecutableSchema, r *Resolver) graphql.ExecutableSchema {
	return fastSchema{ExecutableSchema: es, r: r}
}

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
		// On a copy of the budget: if the fast path gives up, the generated
		// executor starts over from what the fast path found.
		if data, ok := s.query(withBudget(ctx, budgetFrom(ctx).trial()), opCtx); ok {
			fastPathAnswers.Add(1)
			next = func(context.Context) *graphql.Response { return nil }
			return &graphql.Response{Data: data}
		}
		next = s.ExecutableSchema.Exec(ctx)
		return next(ctx)
	}
}

// fastEncoder carries one operation's state.
type fastEncoder struct {
	ctx    context.Context
	opCtx  *graphql.OperationContext
	r      *Resolver
	viewer *models.User
	b      []byte
}

var (
	queryType       = []string{"Query"}
	userType        = []string{"User"}
	roomType        = []string{"Room"}
	settingsType    = []string{"RoomSettings"}
	participantType = []string{"Participant"}
)

func (s fastSchema) query(ctx context.Context, opCtx *graphql.OperationContext) (json.RawMessage, bool) {
	fields := graphql.CollectFields(opCtx, opCtx.Operation.SelectionSet, queryType)
	var me *graphql.CollectedField
	for i := range fields {
		switch fields[i].Name {
		case "__typename":
		case "me":
			me = &fields[i]
		default:
			return nil, false
		}
	}
	if me == nil {
		return nil, false
	}
	viewer, err := s.r.Service.Viewer(ctx)
	if err != nil {
		return nil, false
	}
	For(ctx).PrimeUser(viewer)
	e := &fastEncoder{ctx: ctx, opCtx: opCtx, r: s.r, viewer: viewer, b: make([]byte, 0, answerSizeHint())}
	e.b = append(e.b, '{')
	for i, f := range fields {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.key(f.Alias)
		if f.Name == "__typename" {
			e.str("Query")
			continue
		}
		if !e.user(f.Selections, viewer, true) {
			return nil, false
		}
	}
	e.b = append(e.b, '}')
	lastAnswerSize.Store(int64(len(e.b)))
	return e.b, true
}

// lastAnswerSize remembers the size of the latest answer: dashboards ask
// the same question over and over, so sizing the next buffer from it saves
// the re-allocations of growing one from scratch.
var lastAnswerSize atomic.Int64

func answerSizeHint() int {
	n := int(lastAnswerSize.Load())
	return min(max(n+n/4, 4<<10), 1<<20)
}

// user writes a User; rooms is only allowed for the viewer at the root
// (elsewhere it is the generated executor's job to refuse or answer it).
func (e *fastEncoder) user(sel ast.SelectionSet, u *models.User, allowRooms bool) bool {
	return e.object(sel, userType, func(f graphql.CollectedField) bool {
		switch f.Name {
		case "id":
			e.str(u.ID)
		case "email":
			e.optStr(service.VisibleEmail(e.ctx, u))
		case "name":
			e.optStr(u.Name)
		case "displayName":
			e.str(u.DisplayName)
		case "avatarUrl":
			e.optStr(u.AvatarURL)
		case "createdAt":
			e.time(u.CreatedAt)
		case "rooms":
			if !allowRooms || !e.rooms(f, u) {
				return false
			}
		default:
			return false
		}
		return true
	})
}

func (e *fastEncoder) rooms(f graphql.CollectedField, u *models.User) bool {
	args := f.ArgumentMap(e.opCtx.Variables)
	page := service.RoomPage{}
	if v, ok := args["status"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return false
		}
		page.Status = service.RoomStatus(s)
	}
	if v, ok := args["first"]; ok && v != nil {
		n, ok := argInt(v)
		if !ok {
			return false
		}
		page.First = &n
	}
	if v, ok := args["after"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return false
		}
		page.After = &s
	}
	rooms, err := e.r.hostedRooms(e.ctx, f, u.ID, page, selectionOf(e.opCtx, f.Selections))
	if err != nil {
		return false
	}
	e.b = append(e.b, '[')
	for i, room := range rooms {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		if !e.room(f.Selections, room) {
			return false
		}
	}
	e.b = append(e.b, ']')
	return true
}

func (e *fastEncoder) room(sel ast.SelectionSet, room *models.Room) bool {
	l := For(e.ctx)
	return e.object(sel, roomType, func(f graphql.CollectedField) bool {
		switch f.Name {
		case "id":
			e.str(room.ID)
		case "code":
			e.str(room.Code)
		case "name":
			e.str(room.Name)
		case "hostId":
			e.str(room.HostID)
		case "isActive":
			e.bool(room.IsActive)
		case "isLocked":
			e.bool(room.IsLocked)
		case "startedAt":
			e.optTime(room.StartedAt)
		case "endedAt":
			e.optTime(room.EndedAt)
		case "createdAt":
			e.time(room.CreatedAt)
		case "updatedAt":
			e.time(room.UpdatedAt)
		case "host":
			host, err := loadUser(e.ctx, room.HostID)
			if err != nil || host == nil || !e.user(f.Selections, host, false) {
				return false
			}
		case "settings":
			s, err := l.Settings.Load(e.ctx, room.ID)
			if err != nil || s == nil || !e.settings(f.Selections, s) {
				return false
			}
		case "participants":
			activeOnly := false
			if v, ok := f.ArgumentMap(e.opCtx.Variables)["activeOnly"]; ok && v != nil {
				if activeOnly, ok = v.(bool); !ok {
					return false
				}
			}
			list, err := roomParticipants(e.ctx, f, room.ID, activeOnly)
			if err != nil {
				return false
			}
			e.b = append(e.b, '[')
			for i, p := range list {
				if i > 0 {
					e.b = append(e.b, ',')
				}
				if !e.participant(f.Selections, p) {
					return false
				}
			}
			e.b = append(e.b, ']')
		default:
			return false
		}
		return true
	})
}

func (e *fastEncoder) settings(sel ast.SelectionSet, s *models.RoomSettings) bool {
	return e.object(sel, settingsType, func(f graphql.CollectedField) bool {
		switch f.Name {
		case "allowChat":
			e.bool(s.AllowChat)
		case "allowScreenShare":
			e.bool(s.AllowScreenShare)
		case "allowGuestAccess":
			e.bool(s.AllowGuestAccess)
		case "waitingRoom":
			e.bool(s.WaitingRoom)
		case "muteParticipantsOnJoin":
			e.bool(s.MuteParticipantsOnJoin)
		case "maxParticipants":
			e.b = strconv.AppendInt(e.b, int64(s.MaxParticipants), 10)
		case "allowParticipantVideo":
			e.bool(s.AllowParticipantVideo)
		case "allowParticipantAudio":
			e.bool(s.AllowParticipantAudio)
		default:
			return false
		}
		return true
	})
}

func (e *fastEncoder) participant(sel ast.SelectionSet, p *models.Participant) bool {
	return e.object(sel, participantType, func(f graphql.CollectedField) bool {
		switch f.Name {
		case "id":
			e.str(p.ID)
		case "roomId":
			e.str(p.RoomID)
		case "userId":
			e.optStr(p.UserID)
		case "guestName":
			e.optStr(p.GuestName)
		case "isActive":
			e.bool(p.IsActive)
		case "isHost":
			e.bool(p.IsHost)
		case "joinedAt":
			e.time(p.JoinedAt)
		case "leftAt":
			e.optTime(p.LeftAt)
		case "user", "displayName":
			var u *models.User
			if p.UserID != nil {
				var err error
				if u, err = loadUser(e.ctx, *p.UserID); err != nil {
					return false
				}
			}
			switch {
			case f.Name == "displayName":
				e.str(service.ParticipantWithUser{Participant: p, User: u}.DisplayName())
			case u == nil:
				e.null()
			case !e.user(f.Selections, u, false):
				return false
			}
		default:
			return false
		}
		return true
	})
}

// object writes one object of GraphQL type typ: the fields sel selects, in
// order, under their aliases. __typename is answered here; every other
// field is written by field, which reports false for anything it cannot
// answer (the whole document then falls back).
func (e *fastEncoder) object(sel ast.SelectionSet, typ []string, field func(f graphql.CollectedField) bool) bool {
	e.b = append(e.b, '{')
	for i, f := range graphql.CollectFields(e.opCtx, sel, typ) {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.key(f.Alias)
		if f.Name == "__typename" {
			e.str(typ[0])
			continue
		}
		if !field(f) {
			return false
		}
	}
	e.b = append(e.b, '}')
	return true
}

func (e *fastEncoder) key(k string) {
	e.str(k)
	e.b = append(e.b, ':')
}

func (e *fastEncoder) null() { e.b = append(e.b, "null"...) }

func (e *fastEncoder) bool(v bool) { e.b = strconv.AppendBool(e.b, v) }

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

func (e *fastEncoder) optStr(s *string) {
	if s == nil {
		e.null()
		return
	}
	e.str(*s)
}

// str writes s quoted exactly as gqlgen's string marshaller does: only
// quotes, backslashes and control characters are escaped.
func (e *fastEncoder) str(s string) {
	const hex = "0123456789abcdef"
	b := append(e.b, '"')
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
	e.b = append(b, '"')
}

// argInt reads an Int argument as gqlparser hands it over (a literal is
// int64; a variable keeps its JSON decoding).
func argInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), int64(int(n)) == n
	case int32:
		return int(n), true
	case float64:
		return int(n), float64(int(n)) == n
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil && int64(int(i)) == i
	}
	return 0, false
}
