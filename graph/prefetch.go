package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/models"
)

// prefetchRooms loads, in one batch each, whatever the query selects under
// a list of rooms (settings, participants, their users, hosts) and primes
// the loaders with it. The field resolvers then find everything cached and
// never wait on a loader's timer: a request costs the same few statements
// whether it lists one room or a hundred.
func (r *Resolver) prefetchRooms(ctx context.Context, rooms []*models.Room, want roomSelection) error {
	if len(rooms) == 0 {
		return nil
	}
	l := For(ctx)
	ids := make([]string, len(rooms))
	var userIDs []string
	for i, room := range rooms {
		ids[i] = room.ID
		if room.JoinedSettings != nil {
			l.Settings.Prime(room.ID, room.JoinedSettings)
		}
		if want.host {
			userIDs = append(userIDs, room.HostID)
		}
	}
	if want.settings && rooms[0].JoinedSettings == nil {
		settings, err := r.Service.SettingsByRoomIDs(ctx, ids)
		if err != nil {
			return fmt.Errorf("prefetch rooms: %w", err)
		}
		for _, s := range settings {
			l.Settings.Prime(s.RoomID, s)
		}
	}
	if want.participants {
		participants, err := r.Service.ParticipantsByRoomIDs(ctx, ids)
		if err != nil {
			return fmt.Errorf("prefetch rooms: %w", err)
		}
		for id, ps := range participants {
			l.Participants.Prime(id, ps)
			if want.participantUsers {
				for _, p := range ps {
					if p.UserID != nil {
						userIDs = append(userIDs, *p.UserID)
					}
				}
			}
		}
	}
	if missing := l.missingUsers(userIDs); len(missing) > 0 {
		users, err := r.Service.UsersByIDs(ctx, missing)
		if err != nil {
			return fmt.Errorf("prefetch rooms: %w", err)
		}
		for _, u := range users {
			l.Users.Prime(u.ID, u)
		}
	}
	return nil
}

// roomSelection is what a query selects under a list of rooms.
type roomSelection struct {
	settings, participants, participantUsers, host bool
}

// selectedRoomFields reads the current field's selection (a list of Room).
func selectedRoomFields(ctx context.Context) roomSelection {
	return roomSelectionOf(graphql.GetOperationContext(ctx), graphql.CollectFieldsCtx(ctx, roomType))
}

// selectionOf reads a selection set under a list of Room.
func selectionOf(opCtx *graphql.OperationContext, sel ast.SelectionSet) roomSelection {
	return roomSelectionOf(opCtx, graphql.CollectFields(opCtx, sel, roomType))
}

func roomSelectionOf(opCtx *graphql.OperationContext, fields []graphql.CollectedField) roomSelection {
	var want roomSelection
	for _, f := range fields {
		switch f.Name {
		case "settings":
			want.settings = true
		case "host":
			want.host = true
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
