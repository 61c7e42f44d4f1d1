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
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/service"
)

// The fast path must be invisible: for every document, the bytes a client
// receives are the ones gqlgen's generated executor produces.
func TestFastPath_MatchesGeneratedExecutor(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		tokens := auth.NewTokens([]byte("fast-path-test-secret-32-bytes!!"), time.Hour)
		passwords, err := auth.NewPasswords(4)
		if err != nil {
			t.Fatal(err)
		}
		svc := service.New(service.Deps{DB: bdb, Tokens: tokens, Passwords: passwords})
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		fast := wrap(tokens, NewHandler(svc, log, HandlerConfig{}))
		plain := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{Service: svc}}))
		plain.AddTransport(postTransport{})
		plain.SetErrorPresenter(errorPresenter(log))
		plain.AroundResponses(withLoaders(svc))
		generic := wrap(tokens, plain)

		host, other, roomIDs := seedFastPathData(t, svc)
		hostToken, _ := tokens.IssueUser(host, "")
		otherToken, _ := tokens.IssueUser(other, "")

		type doc struct {
			name, query string
			vars        map[string]any
			token       string
			fast        bool // the fast path must answer it (not fall back)
		}
		docs := []doc{
			{name: "every field", fast: true, query: `{ me { id email name displayName avatarUrl createdAt rooms {
				id code name hostId isActive isLocked startedAt endedAt createdAt updatedAt
				host { id email name displayName avatarUrl createdAt }
				settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants allowParticipantVideo allowParticipantAudio }
				participants { id roomId userId guestName displayName isActive isHost joinedAt leftAt
					user { id email name displayName avatarUrl createdAt } } } } }`},
			{name: "aliases and typenames", fast: true, query: `{ __typename who: me { __typename i: id rooms { __typename n: name s: settings { __typename c: allowChat } p: participants { __typename d: displayName u: user { __typename id } } } } }`},
			{name: "fragments", fast: true, query: `query Q { me { ...U } } fragment U on User { id rooms { ...R ... on Room { code } } } fragment R on Room { id settings { ... on RoomSettings { maxParticipants } } participants(activeOnly: true) { ...P } } fragment P on Participant { id isActive }`},
			{name: "skip and include", fast: true, vars: map[string]any{"yes": true, "no": false}, query: `query($yes: Boolean!, $no: Boolean!) { me { id @skip(if: $yes) displayName @include(if: $yes) rooms { id @include(if: $no) name participants @skip(if: $no) { id } settings @skip(if: $yes) { allowChat } } } }`},
			{name: "merged duplicate fields", fast: true, query: `{ me { id id rooms { id } rooms { name participants { id } participants { isHost } } } }`},
			{name: "status active", fast: true, query: `{ me { rooms(status: ACTIVE) { id isActive } } }`},
			{name: "status ended", fast: true, query: `{ me { rooms(status: ENDED) { id endedAt participants { leftAt } } } }`},
			{name: "first page", fast: true, query: `{ me { rooms(first: 2) { id } } }`},
			{name: "second page by variables", fast: true, vars: map[string]any{"n": 2, "after": roomIDs[1]}, query: `query($n: Int, $after: ID) { me { rooms(first: $n, after: $after) { id name } } }`},
			{name: "active only by variable", fast: true, vars: map[string]any{"a": true}, query: `query($a: Boolean) { me { rooms { participants(activeOnly: $a) { id } } } }`},
			{name: "another user sees only their own rooms", fast: true, token: otherToken, query: `{ me { email rooms { id } } }`},
			{name: "bad first falls back to the error", query: `{ me { rooms(first: 0) { id } } }`},
			{name: "bad cursor falls back to the error", vars: map[string]any{"after": "nope"}, query: `query($after: ID) { me { rooms(after: $after) { id } } }`},
			{name: "unauthenticated falls back", token: "-", query: `{ me { id rooms { id } } }`},
			{name: "nested rooms of a host fall back", query: `{ me { rooms { host { rooms { id } } } } }`},
			{name: "other root fields fall back", vars: map[string]any{"id": roomIDs[0]}, query: `query($id: ID!) { me { id } room(id: $id) { id name } }`},
			{name: "validation errors are untouched", query: `{ me { rooms { nope } } }`},
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
				before := fastPathAnswers.Load()
				want := post(t, generic, token, d.query, d.vars)
				if fastPathAnswers.Load() != before {
					t.Fatal("the plain handler must never take the fast path")
				}
				got := post(t, fast, token, d.query, d.vars)
				took := fastPathAnswers.Load() != before
				if took != d.fast {
					t.Errorf("fast path taken = %v, want %v", took, d.fast)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("fast path answer differs from the generated executor's\n fast: %s\n want: %s", got, want)
				}
				if d.fast && bytes.Contains(got, []byte(`"errors"`)) {
					t.Errorf("an eligible document produced errors: %s", got)
				}
			})
		}
	})
}

func wrap(tokens *auth.Tokens, h http.Handler) http.Handler {
	return auth.Middleware(tokens)(h)
}

func post(t *testing.T, h http.Handler, token, query string, vars map[string]any) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Body.Bytes()
}

// seedFastPathData creates a host with four rooms (one ended, one empty),
// a second user, and guests whose names need escaping.
func seedFastPathData(t *testing.T, svc *service.Service) (hostID, otherID string, roomIDs []string) {
	t.Helper()
	ctx := context.Background()
	reg := func(email, name string) string {
		res, err := svc.Register(ctx, service.RegisterInput{Email: email, Password: "correct-horse", DisplayName: name})
		if err != nil {
			t.Fatal(err)
		}
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
		g := guests[i]
		joined, err := svc.JoinRoom(ctx, room.Room.Code, &g)
		if err != nil {
			t.Fatal(err)
		}
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
		tokens := auth.NewTokens([]byte("fast-path-test-secret-32-bytes!!"), time.Hour)
		passwords, err := auth.NewPasswords(4)
		if err != nil {
			t.Fatal(err)
		}
		svc := service.New(service.Deps{DB: bdb, Tokens: tokens, Passwords: passwords})
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		// Lists without first count 5 items; a response may cost 15.
		limits := Limits{DefaultListSize: 5, MaxComplexity: 15}
		fast := wrap(tokens, NewHandler(svc, log, HandlerConfig{Limits: limits}))
		plain := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{Service: svc}}))
		plain.AddTransport(postTransport{})
		plain.Use(limitsExtension{limits})
		plain.SetErrorPresenter(errorPresenter(log))
		plain.AroundResponses(withLoaders(svc))
		generic := wrap(tokens, plain)

		host := seedLongLists(t, svc, 8, 8)
		hostToken, _ := tokens.IssueUser(host, "")
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
				before := fastPathAnswers.Load()
				wantStatus, want := postStatus(t, generic, hostToken, d.query)
				if fastPathAnswers.Load() != before {
					t.Fatal("the plain handler must never take the fast path")
				}
				gotStatus, got := postStatus(t, fast, hostToken, d.query)
				if took := fastPathAnswers.Load() != before; took != d.fits {
					t.Errorf("fast path answered = %v, want %v", took, d.fits)
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

func postStatus(t *testing.T, h http.Handler, token, query string) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
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
