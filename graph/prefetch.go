package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// viewer answers me. When me selects a list of the viewer's rooms, the
// viewer and the first such list are loaded together (Loaders.viewerRooms:
// one round trip on PostgreSQL instead of two, the rooms statement beside
// the viewer lookup that refuses a deleted user's token). The list field
// still charges the budget and prefetches what is under it.
func (r *Resolver) viewer(ctx context.Context) (*models.User, error) {
	l := For(ctx)
	var u *models.User
	var err error
	if page, ok := viewerRoomsAhead(ctx); ok {
		u, err = l.viewerRooms(ctx, r.Service, page)
	} else if f, args, ok := viewerConnectionAhead(ctx); ok {
		u, err = l.viewerConnection(ctx, r.Service, f, args)
	} else {
		u, err = r.Service.Viewer(ctx)
	}
	if err != nil {
		return nil, err
	}
	l.PrimeUser(u)
	return u, nil
}

// childAhead finds, under the current field (me), the first field named
// name and the field context its resolver will get: its arguments coerced
// by the generated code. It reports false when there is none, or when its
// arguments do not coerce (its resolver then reports the error).
func childAhead(ctx context.Context, name string) (graphql.CollectedField, *graphql.FieldContext, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Child == nil {
		return graphql.CollectedField{}, nil, false
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, userType) {
		if f.Name == name {
			child, err := fc.Child(ctx, f)
			return f, child, err == nil
		}
	}
	return graphql.CollectedField{}, nil, false
}

// viewerRoomsAhead is the page me's first rooms field asks for, as its
// resolver will read it (Loaders.viewerRooms).
func viewerRoomsAhead(ctx context.Context) (service.RoomPage, bool) {
	f, child, ok := childAhead(ctx, "rooms")
	if !ok {
		return service.RoomPage{}, false
	}
	opCtx := graphql.GetOperationContext(ctx)
	status, _ := child.Args["status"].(*service.RoomStatus)
	first, _ := child.Args["first"].(*int)
	after, _ := child.Args["after"].(*string)
	page := roomPage(status, first, after)
	page.WithSettings = roomSelectionOf(opCtx, graphql.CollectFields(opCtx, f.Selections, roomType)).settings
	return page, true
}

// viewerConnectionAhead is me's first roomsConnection field and the
// arguments its resolver will pass (roomConnection's, selection included),
// for the viewer and its page to be loaded together
// (Loaders.viewerConnection).
func viewerConnectionAhead(ctx context.Context) (*ast.Field, service.ConnectionArgs, bool) {
	f, child, ok := childAhead(ctx, "roomsConnection")
	if !ok {
		return nil, service.ConnectionArgs{}, false
	}
	opCtx := graphql.GetOperationContext(ctx)
	args := service.ConnectionArgs{}
	args.Filter, _ = child.Args["filter"].(*service.RoomFilter)
	args.OrderBy, _ = child.Args["orderBy"].(*service.RoomOrder)
	args.First, _ = child.Args["first"].(*int)
	args.After, _ = child.Args["after"].(*string)
	args.Last, _ = child.Args["last"].(*int)
	args.Before, _ = child.Args["before"].(*string)
	_, args = connectionSelection(opCtx, graphql.CollectFields(opCtx, f.Selections, connectionTypes), args)
	return f.Field, args, true
}

// roomPage is the page a rooms field's arguments ask for.
func roomPage(status *service.RoomStatus, first *int, after *string) service.RoomPage {
	page := service.RoomPage{First: first, After: after}
	if status != nil {
		page.Status = *status
	}
	return page
}

// hostedRooms answers a list field of a host's rooms (f, with the page
// asked for and what its selection wants): the rooms, fetched once per
// request for the same page (Loaders.hostedRooms), charged to the execution
// budget for any beyond what the field was costed at, then prefetched. A
// list over the budget is refused before anything under it is loaded.
func (r *Resolver) hostedRooms(ctx context.Context, f graphql.CollectedField, hostID string, page service.RoomPage, want roomSelection) ([]*models.Room, error) {
	page.WithSettings = want.settings
	rooms, err := For(ctx).hostedRooms(ctx, r.Service, hostID, page)
	if err != nil {
		return nil, err
	}
	if err := chargeList(ctx, f, len(rooms)); err != nil {
		return nil, err
	}
	if err := r.prefetchRooms(ctx, rooms, want); err != nil {
		return nil, err
	}
	return rooms, nil
}

// prefetchRooms loads, in one batch each, whatever the query selects under
// a list of rooms (settings, participants, their users, hosts) and primes
// the loaders with it. The field resolvers then find everything cached and
// never wait on a loader's timer: a request costs the same few statements
// whether it lists one room or a hundred. What the loaders hold already is
// not loaded again, so aliases repeating a list cost no statement more.
func (r *Resolver) prefetchRooms(ctx context.Context, rooms []*models.Room, want roomSelection) error {
	if len(rooms) == 0 {
		return nil
	}
	l := For(ctx)
	// One prefetch at a time: aliases of one list prefetch concurrently, and
	// the second must find the first's rows primed, not load them again or,
	// seeing them claimed, let its field resolvers load them before they
	// arrive.
	l.prefetching.Lock()
	defer l.prefetching.Unlock()
	ids := make([]string, len(rooms))
	var userIDs []string
	for i, room := range rooms {
		ids[i] = room.ID
		if want.host {
			userIDs = append(userIDs, room.HostID)
		}
	}
	if want.settings {
		// Settings joined to the rooms cost nothing more (Prime keeps a
		// copy already cached); the rest are loaded unless cached.
		var joined []string
		for _, room := range rooms {
			if room.JoinedSettings != nil {
				l.Settings.Prime(room.ID, room.JoinedSettings)
				joined = append(joined, room.ID)
			}
		}
		l.cache(l.cachedSettings, joined...)
		if missing := l.claim(l.cachedSettings, ids); len(missing) > 0 {
			settings, err := r.Service.SettingsByRoomIDs(ctx, missing)
			if err != nil {
				l.unclaim(l.cachedSettings, missing)
				return fmt.Errorf("prefetch rooms: %w", err)
			}
			for _, s := range settings {
				l.Settings.Prime(s.RoomID, s)
			}
		}
	}
	if want.participants {
		if missing := l.claim(l.cachedParticipants, ids); len(missing) > 0 {
			participants, err := r.Service.ParticipantsByRoomIDs(ctx, missing)
			if err != nil {
				l.unclaim(l.cachedParticipants, missing)
				return fmt.Errorf("prefetch rooms: %w", err)
			}
			for id, ps := range participants {
				l.Participants.Prime(id, ps)
			}
		}
	}
	if want.participantUsers {
		for _, id := range ids {
			// Primed above, or before: a cache hit.
			ps, err := l.Participants.Load(ctx, id)
			if err != nil {
				return fmt.Errorf("prefetch rooms: %w", err)
			}
			for _, p := range ps {
				if p.UserID != nil {
					userIDs = append(userIDs, *p.UserID)
				}
			}
		}
	}
	if missing := l.claim(l.cachedUsers, userIDs); len(missing) > 0 {
		users, err := r.Service.UsersByIDs(ctx, missing)
		if err != nil {
			l.unclaim(l.cachedUsers, missing)
			return fmt.Errorf("prefetch rooms: %w", err)
		}
		for _, u := range users {
			l.Users.Prime(u.ID, u)
		}
	}
	return nil
}

// roomConnection answers a connection field of rooms (page, one of the
// service's connections): the page, then whatever the selection wants
// under its nodes and its edges' nodes, prefetched for the whole page as
// for a list of rooms.
func (r *Resolver) roomConnection(ctx context.Context, page func(context.Context, string, service.ConnectionArgs) (*service.RoomConnection, error), userID string, args service.ConnectionArgs) (*service.RoomConnection, error) {
	want, args := connectionSelection(graphql.GetOperationContext(ctx), graphql.CollectFieldsCtx(ctx, connectionTypes), args)
	conn, err, ahead := For(ctx).takeConnection(ctx, graphql.GetFieldContext(ctx).Field.Field, userID)
	if !ahead {
		conn, err = page(ctx, userID, args)
	}
	if err != nil {
		return nil, err
	}
	if err := r.prefetchRooms(ctx, conn.Nodes(), want); err != nil {
		return nil, err
	}
	return conn, nil
}

// connectionSelection is what a connection's selection (fields) wants
// under its rooms, and args with what the page reads with it: the rooms'
// settings, and the total count.
func connectionSelection(opCtx *graphql.OperationContext, fields []graphql.CollectedField, args service.ConnectionArgs) (roomSelection, service.ConnectionArgs) {
	var want roomSelection
	for _, f := range fields {
		switch f.Name {
		case "totalCount":
			// Read with the page, in its round trip, not after it.
			args.WithCount = true
		case "nodes":
			want = want.or(roomSelectionOf(opCtx, graphql.CollectFields(opCtx, f.Selections, roomType)))
		case "edges":
			for _, ef := range graphql.CollectFields(opCtx, f.Selections, edgeTypes) {
				if ef.Name == "node" {
					want = want.or(roomSelectionOf(opCtx, graphql.CollectFields(opCtx, ef.Selections, roomType)))
				}
			}
		}
	}
	// Settings come with the page, as they do with a list of rooms.
	args.WithSettings = want.settings
	return want, args
}

var (
	connectionTypes = []string{"RoomConnection", "AttendedRoomConnection"}
	edgeTypes       = []string{"RoomEdge", "AttendedRoomEdge"}
	roomType        = []string{"Room"}
	userType        = []string{"User"}
	participantType = []string{"Participant"}
	messageType     = []string{"Message"}
)

// roomSelection is what a query selects under a list of rooms.
type roomSelection struct {
	settings, participants, participantUsers, host bool
}

// or is what either selection wants.
func (a roomSelection) or(b roomSelection) roomSelection {
	return roomSelection{
		settings: a.settings || b.settings, participants: a.participants || b.participants,
		participantUsers: a.participantUsers || b.participantUsers, host: a.host || b.host,
	}
}

// selectedRoomFields reads the current field's selection (a list of Room).
func selectedRoomFields(ctx context.Context) roomSelection {
	return roomSelectionOf(graphql.GetOperationContext(ctx), graphql.CollectFieldsCtx(ctx, roomType))
}

func roomSelectionOf(opCtx *graphql.OperationContext, fields []graphql.CollectedField) roomSelection {
	var want roomSelection
	for _, f := range fields {
		switch f.Name {
		case "settings":
			want.settings = true
		case "host":
			want.host = true
		case "stats":
			// Computed from the room's participants (loadRoomStats).
			want.participants = true
		case "participants":
			want.participants = true
			for _, pf := range graphql.CollectFields(opCtx, f.Selections, participantType) {
				if pf.Name == "user" || pf.Name == "displayName" {
					want.participantUsers = true
				}
			}
		}
	}
	return want
}

// prefetchMessages loads, when the room is one of a list (me.rooms), the
// same page of messages for every room of the list in one batch, and what
// the selection wants of their senders, before any room's messages are
// read: the statements stay the same for one room or a hundred however
// the list's goroutines are scheduled (a loader's batching window alone
// split the batch on a busy machine). Every room's messages field runs
// this; the loaders' caches and claims make the first one do the work.
func (r *Resolver) prefetchMessages(ctx context.Context, page service.MessagePage) error {
	rooms := siblingRooms(ctx)
	if len(rooms) < 2 {
		return nil
	}
	keys := make([]service.MessagePageKey, 0, len(rooms))
	for _, room := range rooms {
		if key, err := service.CheckMessagePage(room.ID, page); err == nil {
			keys = append(keys, key)
		}
	}
	if _, err := For(ctx).Messages.LoadAll(ctx, keys); err != nil {
		return fmt.Errorf("prefetch messages: %w", err)
	}
	var want roomSelection
	opCtx := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFieldsCtx(ctx, messageType) {
		if f.Name == "participant" {
			want.participants = true
			for _, pf := range graphql.CollectFields(opCtx, f.Selections, participantType) {
				if pf.Name == "user" || pf.Name == "displayName" {
					want.participantUsers = true
				}
			}
		}
	}
	if !want.participants {
		return nil
	}
	return r.prefetchRooms(ctx, rooms, want)
}

// siblingRooms is the list the current field's room belongs to, when it is
// an item of a list of rooms the executor has resolved (its field context's
// grandparent holds the list).
func siblingRooms(ctx context.Context) []*models.Room {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Parent == nil || fc.Parent.Parent == nil {
		return nil
	}
	rooms, _ := fc.Parent.Parent.Result.([]*models.Room)
	return rooms
}
