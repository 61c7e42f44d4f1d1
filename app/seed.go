package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/service"
)

const (
	demoEmail    = "demo@neuronmeet.dev"
	demoPassword = "demo-password"
)

// Seed creates (once) a demo host with a few rooms and participants, and
// prints a token for it, so a newcomer can query me.rooms straight away.
// It goes through the service like any client would.
func Seed(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	if err := useSecretFile(&cfg, log); err != nil {
		return err
	}
	bdb, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer bdb.Close()
	a, err := New(cfg, bdb, log)
	if err != nil {
		return err
	}
	defer a.CloseLive()
	svc := a.svc
	host, err := svc.Register(ctx, service.RegisterInput{Email: demoEmail, Password: demoPassword, DisplayName: "Demo Host"})
	if apperr.CodeOf(err) == apperr.Conflict {
		host, err = svc.Login(ctx, service.LoginInput{Email: demoEmail, Password: demoPassword})
		if err != nil {
			return fmt.Errorf("seed: log in demo host: %w", err)
		}
		fmt.Fprintf(out, "Demo data already present.\n")
	} else if err != nil {
		return fmt.Errorf("seed: register demo host: %w", err)
	} else {
		if err := seedRooms(ctx, svc, host.User.ID); err != nil {
			return err
		}
		fmt.Fprintf(out, "Created demo host %s (password %q) with 3 rooms.\n", demoEmail, demoPassword)
	}
	if cfg.secretFile != "" {
		fmt.Fprintf(out, "Signed with the development secret in %s, which the server uses too while JWT_SECRET is unset.\n", cfg.secretFile)
	}
	fmt.Fprintf(out, "\nAuthorization: Bearer %s\n", host.AccessToken)
	return nil
}

func seedRooms(ctx context.Context, svc *service.Service, hostID string) error {
	hostCtx := auth.WithPrincipal(ctx, &auth.Principal{UserID: hostID})
	guest := func(name string) *string { return &name }
	names := []string{"Weekly Planning", "Design Review", "Team Standup"}
	for i, name := range names {
		room, err := svc.CreateRoom(hostCtx, service.CreateRoomInput{Name: &name})
		if err != nil {
			return fmt.Errorf("seed: create room: %w", err)
		}
		if _, err := svc.JoinRoom(hostCtx, room.Room.Code, nil); err != nil {
			return fmt.Errorf("seed: host joins: %w", err)
		}
		for g := 0; g <= i; g++ {
			joined, err := svc.JoinRoom(ctx, room.Room.Code, guest(fmt.Sprintf("Guest %d", g+1)))
			if err != nil {
				return fmt.Errorf("seed: guest joins: %w", err)
			}
			if g == 0 && i == 2 {
				guestCtx := auth.WithPrincipal(ctx, &auth.Principal{ParticipantID: joined.Participant.ID, RoomID: room.Room.ID})
				if _, err := svc.LeaveRoom(guestCtx, joined.Participant.ID); err != nil {
					return fmt.Errorf("seed: guest leaves: %w", err)
				}
			}
		}
		if i == 0 {
			if _, err := svc.EndRoom(hostCtx, room.Room.ID); err != nil {
				return fmt.Errorf("seed: end room: %w", err)
			}
		}
	}
	return nil
}
