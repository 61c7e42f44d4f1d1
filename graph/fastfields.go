package graph

import (
	"context"

	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// The fast path's field tables (see fastSchema): for every field of every
// type it answers, byScalar for a value the model holds, byResolver for a
// field with a resolver (called, never re-implemented), byExecutor for a
// field it leaves to gqlgen's executor. A schema field missing here falls
// back at run time and fails TestFastPath_TablesDecideEveryField.
var (
	fastQuery       = newFastType[queryRoot]("Query", reasonRoot)
	fastUser        = newFastType[*models.User]("User", reasonField)
	fastRoom        = newFastType[*models.Room]("Room", reasonField)
	fastSettings    = newFastType[*models.RoomSettings]("RoomSettings", reasonField)
	fastParticipant = newFastType[*models.Participant]("Participant", reasonField)
	fastRoomStats   = newFastType[*service.RoomStats]("RoomStats", reasonField)
	fastConnection  = newFastType[*service.RoomConnection]("RoomConnection", reasonField)
	fastEdge        = newFastType[*service.RoomEdge]("RoomEdge", reasonField)
	fastPageInfo    = newFastType[*service.PageInfo]("PageInfo", reasonField)
)

// The tables refer to each other (a room's host is a User, a user's rooms
// are Rooms), which package-level initializers may not.
func init() {
	fastQuery.fields = map[string]fastField[queryRoot]{
		"me": resolvedObject(fastUser, func(r *fastResolvers, ctx context.Context, _ map[string]any, _ queryRoot) (*models.User, error) {
			return r.query.Me(ctx)
		}),
		"room":       {how: byExecutor},
		"roomByCode": {how: byExecutor},
		"user":       {how: byExecutor},
		"__schema":   {how: byExecutor},
		"__type":     {how: byExecutor},
	}

	fastUser.fields = map[string]fastField[*models.User]{
		"id": scalar(func(e *fastEncoder, u *models.User) { e.str(u.ID) }),
		"email": resolvedScalar(func(r *fastResolvers, ctx context.Context, _ map[string]any, u *models.User) (*string, error) {
			return r.user.Email(ctx, u)
		}, (*fastEncoder).optStr),
		"name":        scalar(func(e *fastEncoder, u *models.User) { e.optStr(u.Name) }),
		"displayName": scalar(func(e *fastEncoder, u *models.User) { e.str(u.DisplayName) }),
		"avatarUrl":   scalar(func(e *fastEncoder, u *models.User) { e.optStr(u.AvatarURL) }),
		"createdAt":   scalar(func(e *fastEncoder, u *models.User) { e.time(u.CreatedAt) }),
		// The dashboard's list (issue #12 holds it to 1.3 times me.rooms'
		// cost, which the executor's dozen allocations per field exceed
		// fourfold). attended, a history rather than the dashboard, is left
		// to the executor, which answers it with the same prefetched loaders.
		"roomsConnection": resolvedObject(fastConnection, func(r *fastResolvers, ctx context.Context, args map[string]any, u *models.User) (*service.RoomConnection, error) {
			return r.user.RoomsConnection(ctx, u, args["filter"].(*service.RoomFilter), args["orderBy"].(*service.RoomOrder),
				args["first"].(*int), args["after"].(*string), args["last"].(*int), args["before"].(*string))
		}),
		"attended": {how: byExecutor},
		// usage is one call of the service whatever it selects: nothing
		// for the fast path to save.
		"usage": {how: byExecutor},
		"rooms": resolvedList(fastRoom, func(r *fastResolvers, ctx context.Context, args map[string]any, u *models.User) ([]*models.Room, error) {
			return r.user.Rooms(ctx, u, args["status"].(*service.RoomStatus), args["first"].(*int), args["after"].(*string))
		}),
	}

	fastRoom.fields = map[string]fastField[*models.Room]{
		"id":     scalar(func(e *fastEncoder, r *models.Room) { e.str(r.ID) }),
		"code":   scalar(func(e *fastEncoder, r *models.Room) { e.str(r.Code) }),
		"name":   scalar(func(e *fastEncoder, r *models.Room) { e.str(r.Name) }),
		"hostId": scalar(func(e *fastEncoder, r *models.Room) { e.str(r.HostID) }),
		"host": resolvedObject(fastUser, func(r *fastResolvers, ctx context.Context, _ map[string]any, room *models.Room) (*models.User, error) {
			return r.room.Host(ctx, room)
		}),
		"isActive":  scalar(func(e *fastEncoder, r *models.Room) { e.bool(r.IsActive) }),
		"isLocked":  scalar(func(e *fastEncoder, r *models.Room) { e.bool(r.IsLocked) }),
		"startedAt": scalar(func(e *fastEncoder, r *models.Room) { e.optTime(r.StartedAt) }),
		"endedAt":   scalar(func(e *fastEncoder, r *models.Room) { e.optTime(r.EndedAt) }),
		"createdAt": scalar(func(e *fastEncoder, r *models.Room) { e.time(r.CreatedAt) }),
		"updatedAt": scalar(func(e *fastEncoder, r *models.Room) { e.time(r.UpdatedAt) }),
		"settings": resolvedObject(fastSettings, func(r *fastResolvers, ctx context.Context, _ map[string]any, room *models.Room) (*models.RoomSettings, error) {
			return r.room.Settings(ctx, room)
		}),
		"messages": {how: byExecutor},
		"stats": resolvedObject(fastRoomStats, func(r *fastResolvers, ctx context.Context, _ map[string]any, room *models.Room) (*service.RoomStats, error) {
			return r.room.Stats(ctx, room)
		}),
		"participants": resolvedList(fastParticipant, func(r *fastResolvers, ctx context.Context, args map[string]any, room *models.Room) ([]*models.Participant, error) {
			return r.room.Participants(ctx, room, args["activeOnly"].(*bool))
		}),
	}

	fastSettings.fields = map[string]fastField[*models.RoomSettings]{
		"allowChat":              scalar(func(e *fastEncoder, s *models.RoomSettings) { e.bool(s.AllowChat) }),
		"allowScreenShare":       scalar(func(e *fastEncoder, s *models.RoomSettings) { e.bool(s.AllowScreenShare) }),
		"allowGuestAccess":       scalar(func(e *fastEncoder, s *models.RoomSettings) { e.bool(s.AllowGuestAccess) }),
		"waitingRoom":            scalar(func(e *fastEncoder, s *models.RoomSettings) { e.bool(s.WaitingRoom) }),
		"muteParticipantsOnJoin": scalar(func(e *fastEncoder, s *models.RoomSettings) { e.bool(s.MuteParticipantsOnJoin) }),
		"maxParticipants":        scalar(func(e *fastEncoder, s *models.RoomSettings) { e.int(s.MaxParticipants) }),
		"allowParticipantVideo":  scalar(func(e *fastEncoder, s *models.RoomSettings) { e.bool(s.AllowParticipantVideo) }),
		"allowParticipantAudio":  scalar(func(e *fastEncoder, s *models.RoomSettings) { e.bool(s.AllowParticipantAudio) }),
	}

	fastParticipant.fields = map[string]fastField[*models.Participant]{
		"id":     scalar(func(e *fastEncoder, p *models.Participant) { e.str(p.ID) }),
		"roomId": scalar(func(e *fastEncoder, p *models.Participant) { e.str(p.RoomID) }),
		"userId": scalar(func(e *fastEncoder, p *models.Participant) { e.optStr(p.UserID) }),
		"user": resolvedObject(fastUser, func(r *fastResolvers, ctx context.Context, _ map[string]any, p *models.Participant) (*models.User, error) {
			return r.participant.User(ctx, p)
		}),
		"guestName": scalar(func(e *fastEncoder, p *models.Participant) { e.optStr(p.GuestName) }),
		"displayName": resolvedScalar(func(r *fastResolvers, ctx context.Context, _ map[string]any, p *models.Participant) (string, error) {
			return r.participant.DisplayName(ctx, p)
		}, (*fastEncoder).str),
		"isActive": scalar(func(e *fastEncoder, p *models.Participant) { e.bool(p.IsActive) }),
		"isHost":   scalar(func(e *fastEncoder, p *models.Participant) { e.bool(p.IsHost) }),
		"joinedAt": scalar(func(e *fastEncoder, p *models.Participant) { e.time(p.JoinedAt) }),
		"leftAt":   scalar(func(e *fastEncoder, p *models.Participant) { e.optTime(p.LeftAt) }),
	}

	fastConnection.fields = map[string]fastField[*service.RoomConnection]{
		"totalCount": methodScalar((*service.RoomConnection).TotalCount, (*fastEncoder).int),
		"pageInfo":   heldObject(fastPageInfo, func(c *service.RoomConnection) *service.PageInfo { return &c.PageInfo }),
		"edges":      heldList(fastEdge, func(c *service.RoomConnection) []*service.RoomEdge { return c.Edges }),
		"nodes":      methodList(fastRoom, (*service.RoomConnection).Nodes),
	}

	fastEdge.fields = map[string]fastField[*service.RoomEdge]{
		"cursor": methodScalar(func(edge *service.RoomEdge, _ context.Context) (string, error) { return edge.Cursor(), nil }, (*fastEncoder).str),
		"node":   heldObject(fastRoom, func(edge *service.RoomEdge) *models.Room { return edge.Node }),
	}

	fastPageInfo.fields = map[string]fastField[*service.PageInfo]{
		"hasNextPage":     scalar(func(e *fastEncoder, pi *service.PageInfo) { e.bool(pi.HasNextPage) }),
		"hasPreviousPage": scalar(func(e *fastEncoder, pi *service.PageInfo) { e.bool(pi.HasPreviousPage) }),
		"startCursor":     scalar(func(e *fastEncoder, pi *service.PageInfo) { e.optStr(pi.StartCursor) }),
		"endCursor":       scalar(func(e *fastEncoder, pi *service.PageInfo) { e.optStr(pi.EndCursor) }),
	}

	fastRoomStats.fields = map[string]fastField[*service.RoomStats]{
		"activeParticipants": scalar(func(e *fastEncoder, s *service.RoomStats) { e.int(s.ActiveParticipants) }),
		"peakParticipants":   scalar(func(e *fastEncoder, s *service.RoomStats) { e.int(s.PeakParticipants) }),
		"uniqueParticipants": scalar(func(e *fastEncoder, s *service.RoomStats) { e.int(s.UniqueParticipants) }),
		"totalJoins":         scalar(func(e *fastEncoder, s *service.RoomStats) { e.int(s.TotalJoins) }),
		"participantSeconds": scalar(func(e *fastEncoder, s *service.RoomStats) { e.int(s.ParticipantSeconds) }),
		"durationSeconds":    scalar(func(e *fastEncoder, s *service.RoomStats) { e.int(s.DurationSeconds) }),
		"lastActivityAt":     scalar(func(e *fastEncoder, s *service.RoomStats) { e.time(s.LastActivityAt) }),
	}
}
