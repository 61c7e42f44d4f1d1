package graph

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vikstrous/dataloadgen"

	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// Loader tuning. Parents prefetch their children's data whenever the
// selection asks for it (see prefetch.go), so the wait is a fallback for
// paths that were not prefetched: short enough not to matter for latency,
// long enough to gather one nesting level's sibling goroutines.
const (
	loaderWait     = 500 * time.Microsecond
	loaderMaxBatch = 500
)

// Loaders are the per-request dataloaders. They are built for each request
// and dropped with it: sharing them across requests would mix users' caches.
type Loaders struct {
	Settings     *primedLoader[*models.RoomSettings]
	Participants *primedLoader[[]*models.Participant]
	Users        *primedLoader[*models.User]
	// Messages holds rooms' pages of chat, keyed by room and page.
	Messages *dataloadgen.Loader[service.MessagePageKey, []*models.Message]

	mu sync.Mutex
	// What the loaders hold for the prefetch to skip: users, and the rooms
	// whose settings and participant lists are cached.
	cachedUsers        map[string]struct{}
	cachedSettings     map[string]struct{}
	cachedParticipants map[string]struct{}
	// roomLists memoizes HostedRooms (see hostedRooms).
	roomLists map[roomListKey]*roomListCall
	// ahead is the roomsConnection page loaded with the viewer (see
	// viewerConnection), until its field takes it.
	ahead *connectionAhead
	// prefetching runs one prefetch at a time (see prefetchRooms).
	prefetching sync.Mutex
	// primedUsers are the copies PrimeUser put in Users.
	primingUsers sync.Mutex
	primedUsers  map[string]*models.User
	// now is the instant the request's statistics are computed at (see
	// loadRoomStats), read from the service's clock once.
	nowOnce sync.Once
	now     time.Time
}

// NewLoaders returns fresh loaders over svc.
func NewLoaders(svc *service.Service) *Loaders {
	opts := []dataloadgen.Option{dataloadgen.WithWait(loaderWait), dataloadgen.WithBatchCapacity(loaderMaxBatch)}
	return &Loaders{
		Settings:     newPrimedLoader(dataloadgen.NewMappedLoader(observed("settings", svc.SettingsByRoomIDs), opts...)),
		Participants: newPrimedLoader(dataloadgen.NewMappedLoader(observed("participants", svc.ParticipantsByRoomIDs), opts...)),
		Users:        newPrimedLoader(dataloadgen.NewMappedLoader(observed("users", svc.UsersByIDs), opts...)),
		Messages:     dataloadgen.NewMappedLoader(observed("messages", svc.MessagesByPages), opts...),
		cachedUsers:  map[string]struct{}{},

		cachedSettings:     map[string]struct{}{},
		cachedParticipants: map[string]struct{}{},
		roomLists:          map[roomListKey]*roomListCall{},
		primedUsers:        map[string]*models.User{},
	}
}

// primedLoader is a dataloader with a plain map in front of it holding
// every value the request has: primed ones, and loaded ones once loaded.
// dataloadgen's Prime costs a closure per key (its cache holds thunks),
// which for the prefetch of a 50-room dashboard was 120 allocations of a
// request's 680; an entry in a map costs none. The first value a key gets
// is the one every later read sees, as with dataloadgen's own cache: one
// copy per key per request, however many aliases read it.
type primedLoader[V any] struct {
	*dataloadgen.Loader[string, V]
	mu   sync.Mutex
	held map[string]V
}

func newPrimedLoader[V any](l *dataloadgen.Loader[string, V]) *primedLoader[V] {
	return &primedLoader[V]{Loader: l, held: map[string]V{}}
}

// Load returns key's value: the one held, or the dataloader's (batched
// with other keys, then held).
func (l *primedLoader[V]) Load(ctx context.Context, key string) (V, error) {
	l.mu.Lock()
	v, ok := l.held[key]
	l.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := l.Loader.Load(ctx, key)
	if err != nil {
		return v, err
	}
	return l.keep(key, v), nil
}

// Prime holds v as key's value unless the key has one.
func (l *primedLoader[V]) Prime(key string, v V) { l.keep(key, v) }

// keep holds v for key unless the key has a value, and returns the value
// held.
func (l *primedLoader[V]) keep(key string, v V) V {
	l.mu.Lock()
	defer l.mu.Unlock()
	if held, ok := l.held[key]; ok {
		return held
	}
	l.held[key] = v
	return v
}

// Replace holds v as key's value, whatever it was.
func (l *primedLoader[V]) Replace(key string, v V) {
	l.Clear(key)
	l.Prime(key, v)
}

// Clear forgets key's value.
func (l *primedLoader[V]) Clear(key string) {
	l.mu.Lock()
	delete(l.held, key)
	l.mu.Unlock()
	l.Loader.Clear(key)
}

// PrimeUser caches u, replacing any cached copy (it is the newest).
// Priming the copy already primed does nothing: aliases of me all prime
// the one viewer, and a Clear between another alias's Prime and its
// children's loads would send those loads to the database again.
func (l *Loaders) PrimeUser(u *models.User) {
	l.primingUsers.Lock()
	defer l.primingUsers.Unlock()
	if l.primedUsers[u.ID] == u {
		return
	}
	l.Users.Replace(u.ID, u)
	l.primedUsers[u.ID] = u
	l.cache(l.cachedUsers, u.ID)
}

// claim filters ids down to those not in cached (one of the sets above),
// deduplicated, and adds them to it: the caller is about to load and prime
// them, and must unclaim them if it fails. Only the prefetch claims, one at
// a time (see prefetchRooms).
func (l *Loaders) claim(cached map[string]struct{}, ids []string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, ok := cached[id]; !ok {
			cached[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// unclaim removes ids from cached: loading them failed.
func (l *Loaders) unclaim(cached map[string]struct{}, ids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		delete(cached, id)
	}
}

// cache records ids in cached: the loaders hold them now.
func (l *Loaders) cache(cached map[string]struct{}, ids ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		cached[id] = struct{}{}
	}
}

// PrimeSettings caches s as its room's settings, replacing any cached copy.
func (l *Loaders) PrimeSettings(s *models.RoomSettings) {
	l.Settings.Replace(s.RoomID, s)
	l.cache(l.cachedSettings, s.RoomID)
}

// PrimeParticipants caches ps as the room's participant list, unless one
// is cached already.
func (l *Loaders) PrimeParticipants(roomID string, ps []*models.Participant) {
	l.Participants.Prime(roomID, ps)
	l.cache(l.cachedParticipants, roomID)
}

// ClearParticipants forgets the room's cached participant list.
func (l *Loaders) ClearParticipants(roomID string) {
	l.Participants.Clear(roomID)
	l.unclaim(l.cachedParticipants, []string{roomID})
}

// roomListKey is one HostedRooms call: who asked (it authorizes by the
// principal, and over a websocket each operation has its own), whose rooms,
// and the page.
type roomListKey struct {
	principal     *auth.Principal
	host          string
	status, after string
	first         int
	hasFirst      bool
	hasAfter      bool
	withSettings  bool
}

type roomListCall struct {
	done  chan struct{}
	rooms []*models.Room
	err   error
}

// hostedRooms is svc.HostedRooms, memoized: within one request the same
// host's rooms with the same arguments are fetched once, however many
// aliases ask (concurrent callers wait for the first). A mutation's fields
// each change data and run one after another, so they always read afresh.
func (l *Loaders) hostedRooms(ctx context.Context, svc *service.Service, hostID string, page service.RoomPage) ([]*models.Room, error) {
	if graphql.HasOperationContext(ctx) && graphql.GetOperationContext(ctx).Operation.Operation == ast.Mutation {
		return svc.HostedRooms(ctx, hostID, page)
	}
	call, claimed := l.claimRoomList(roomListKeyOf(ctx, hostID, page))
	if claimed {
		call.rooms, call.err = svc.HostedRooms(ctx, hostID, page)
		close(call.done)
	}
	select {
	case <-call.done:
		return call.rooms, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// claimRoomList returns key's call, and whether this caller made it and
// must load it (and then close its done).
func (l *Loaders) claimRoomList(key roomListKey) (call *roomListCall, claimed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if call, found := l.roomLists[key]; found {
		return call, false
	}
	call = &roomListCall{done: make(chan struct{})}
	l.roomLists[key] = call
	return call, true
}

// viewerRooms is the viewer, loaded with the viewer's rooms for page
// (Service.ViewerRooms) when no call has claimed that list yet: the list
// is then hostedRooms' answer for it, and the list field costs no
// statement of its own.
func (l *Loaders) viewerRooms(ctx context.Context, svc *service.Service, page service.RoomPage) (*models.User, error) {
	p := auth.FromContext(ctx)
	if p == nil || p.UserID == "" {
		return svc.Viewer(ctx) // its refusal
	}
	call, claimed := l.claimRoomList(roomListKeyOf(ctx, p.UserID, page))
	if !claimed {
		return svc.Viewer(ctx)
	}
	u, rooms, err := svc.ViewerRooms(ctx, page)
	call.rooms, call.err = rooms, err
	close(call.done)
	if u == nil {
		return nil, err
	}
	return u, nil
}

// connectionAhead is a roomsConnection field's page, loaded with the
// viewer: whose, for which field of the operation, and the answer.
type connectionAhead struct {
	field     *ast.Field
	principal *auth.Principal
	userID    string
	conn      *service.RoomConnection
	err       error
}

// viewerConnection is the viewer, loaded with the page of the
// roomsConnection field f (Service.ViewerRoomsConnection, with the
// arguments its resolver will pass): the field then takes that page
// (takeConnection) and costs no round trip of its own.
func (l *Loaders) viewerConnection(ctx context.Context, svc *service.Service, f *ast.Field, args service.ConnectionArgs) (*models.User, error) {
	p := auth.FromContext(ctx)
	if p == nil || p.UserID == "" {
		return svc.Viewer(ctx) // its refusal
	}
	u, conn, err := svc.ViewerRoomsConnection(ctx, args)
	if u == nil {
		return nil, err
	}
	l.mu.Lock()
	l.ahead = &connectionAhead{field: f, principal: p, userID: u.ID, conn: conn, err: err}
	l.mu.Unlock()
	return u, nil
}

// takeConnection is the page viewerConnection loaded for the field f of
// userID's rooms, once: false when there is none.
func (l *Loaders) takeConnection(ctx context.Context, f *ast.Field, userID string) (*service.RoomConnection, error, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.ahead
	if a == nil || a.field != f || a.userID != userID || a.principal != auth.FromContext(ctx) {
		return nil, nil, false
	}
	l.ahead = nil
	return a.conn, a.err, true
}

func roomListKeyOf(ctx context.Context, hostID string, page service.RoomPage) roomListKey {
	key := roomListKey{principal: auth.FromContext(ctx), host: hostID, status: string(page.Status), withSettings: page.WithSettings}
	if page.First != nil {
		key.first, key.hasFirst = *page.First, true
	}
	if page.After != nil {
		key.after, key.hasAfter = *page.After, true
	}
	return key
}

type loadersKey struct{}

// For returns the operation's Loaders (see withLoaders). It panics
// without them: that is a wiring bug, and silently building loaders here
// would hide it.
func For(ctx context.Context) *Loaders {
	return ctx.Value(loadersKey{}).(*Loaders)
}

// loadUser returns the user with id, or nil when it no longer exists.
func loadUser(ctx context.Context, id string) (*models.User, error) {
	u, err := For(ctx).Users.Load(ctx, id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// loadParticipant returns participant id of room roomID (from the room's
// list, so the participants of many messages, or of many rooms' messages,
// load in one batch), or nil when it no longer exists.
func loadParticipant(ctx context.Context, roomID, id string) (*models.Participant, error) {
	list, err := For(ctx).Participants.Load(ctx, roomID)
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		if p.ID == id {
			return p, nil
		}
	}
	return nil, nil
}

func loadHost(ctx context.Context, room *models.Room) (*models.User, error) {
	u, err := loadUser(ctx, room.HostID)
	if err == nil && u == nil {
		return nil, errors.New("room host missing")
	}
	return u, err
}

// loadRoomStats computes a room's statistics from its participants (the
// list Room.participants reads, prefetched for a list of rooms), at one
// instant for the whole request: every room of an answer is measured at
// the same now, as a dashboard comparing them expects.
func loadRoomStats(ctx context.Context, svc *service.Service, room *models.Room) (*service.RoomStats, error) {
	l := For(ctx)
	participants, err := l.Participants.Load(ctx, room.ID)
	if err != nil {
		return nil, err
	}
	l.nowOnce.Do(func() { l.now = svc.Now() })
	st := service.ComputeRoomStats(room, participants, l.now)
	return &st, nil
}
