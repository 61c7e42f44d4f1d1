package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"golang.org/x/sync/errgroup"

	"github.com/neuronmeet/api/models"
)

// prefetchRooms loads, in one batch each, whatever the query selects under
// a list of rooms (settings, participants, their users, hosts) and primes
// the loaders with it. The field resolvers then find everything cached and
// never wait on a loader's timer: a request costs the same few statements
// whether it lists one room or a hundred.
func (r *Resolver) prefetchRooms(ctx context.Context, rooms []*models.Room) error {
	if len(rooms) == 0 {
		return nil
	}
	var wantSettings, wantParticipants, wantParticipantUsers, wantHost bool
	opCtx := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "settings":
			wantSettings = true
		case "host":
			wantHost = true
		case "participants":
			wantParticipants = true
			for _, pf := range graphql.CollectFields(opCtx, f.Selections, nil) {
				if pf.Name == "user" || pf.Name == "displayName" {
					wantParticipantUsers = true
				}
			}
		}
	}
	ids := make([]string, len(rooms))
	for i, room := range rooms {
		ids[i] = room.ID
	}
	l := For(ctx)
	var userIDs []string
	if wantHost {
		for _, room := range rooms {
			userIDs = append(userIDs, room.HostID)
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	if wantSettings {
		g.Go(func() error {
			settings, err := r.Service.SettingsByRoomIDs(gctx, ids)
			if err != nil {
				return err
			}
			for _, s := range settings {
				l.Settings.Prime(s.RoomID, s)
			}
			return nil
		})
	}
	var participants map[string][]*models.Participant
	if wantParticipants {
		g.Go(func() error {
			var err error
			participants, err = r.Service.ParticipantsByRoomIDs(gctx, ids)
			if err != nil {
				return err
			}
			for id, ps := range participants {
				l.Participants.Prime(id, ps)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("prefetch rooms: %w", err)
	}
	if wantParticipantUsers {
		for _, ps := range participants {
			for _, p := range ps {
				if p.UserID != nil {
					userIDs = append(userIDs, *p.UserID)
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
