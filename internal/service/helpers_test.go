package service_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/clientip"
	"github.com/neuronmeet/api/internal/ratelimit"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// testSecret signs every token the tests issue.
const testSecret = "a-test-secret-that-is-32-bytes!!"

// env is a service over one fresh database, with helpers to seed it
// through the service and to read it back directly.
type env struct {
	db     *bun.DB
	svc    *service.Service
	tokens *auth.Tokens
}

// emailSeq makes the helpers' emails unique.
var emailSeq atomic.Int64

// newEnv's options change the service's dependencies (its clock, say).
func newEnv(t testing.TB, bdb *bun.DB, opts ...func(*service.Deps)) *env {
	t.Helper()
	passwords, err := auth.NewPasswords(4) // cost 4 keeps the tests fast
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens([]byte(testSecret), time.Hour)
	deps := service.Deps{DB: bdb, Tokens: tokens, Passwords: passwords}
	for _, opt := range opts {
		opt(&deps)
	}
	return &env{db: bdb, svc: service.New(deps), tokens: tokens}
}

// Contexts for each kind of caller.

func anon() context.Context { return context.Background() }

func asUser(id string) context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{UserID: id})
}

func asParticipant(pid, rid string) context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{ParticipantID: pid, RoomID: rid})
}

func asBadToken() context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{Err: auth.ErrInvalidToken})
}

// asGuest is the context a participant's own token puts into requests.
func asGuest(j *service.JoinResult) context.Context {
	return asParticipant(j.Participant.ID, j.Participant.RoomID)
}

// from makes ctx's calls come from the client address ip.
func from(ctx context.Context, ip string) context.Context {
	return clientip.With(ctx, netip.MustParseAddr(ip))
}

// withLimits gives the service a rate-limit guard with rates.
func withLimits(rates map[ratelimit.Op]ratelimit.Rates) func(*service.Deps) {
	return func(d *service.Deps) { d.RateLimits = ratelimit.NewGuard(rates) }
}

func ptr[T any](v T) *T { return &v }

// user registers a fresh account and returns it.
func (e *env) user(t testing.TB, displayName string) *models.User {
	t.Helper()
	email := fmt.Sprintf("%s.%d@example.com", strings.ToLower(strings.ReplaceAll(displayName, " ", "")), emailSeq.Add(1))
	res, err := e.svc.Register(anon(), service.RegisterInput{Email: email, Password: "correct horse", DisplayName: displayName})
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return res.User
}

// room creates a room hosted by hostID.
func (e *env) room(t testing.TB, hostID string, in service.CreateRoomInput) *service.RoomWithSettings {
	t.Helper()
	r, err := e.svc.CreateRoom(asUser(hostID), in)
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	return r
}

// join joins the room with code, failing the test on error.
func (e *env) join(t testing.TB, ctx context.Context, code string, guestName *string) *service.JoinResult {
	t.Helper()
	j, err := e.svc.JoinRoom(ctx, code, guestName)
	if err != nil {
		t.Fatalf("join %s: %v", code, err)
	}
	return j
}

func (e *env) joinGuest(t testing.TB, code, name string) *service.JoinResult {
	t.Helper()
	return e.join(t, anon(), code, &name)
}

func (e *env) leave(t testing.TB, ctx context.Context, participantID string) *models.Participant {
	t.Helper()
	p, err := e.svc.LeaveRoom(ctx, participantID)
	if err != nil {
		t.Fatalf("leave %s: %v", participantID, err)
	}
	return p
}

func (e *env) end(t testing.TB, hostID, roomID string) *models.Room {
	t.Helper()
	r, err := e.svc.EndRoom(asUser(hostID), roomID)
	if err != nil {
		t.Fatalf("end room: %v", err)
	}
	return r
}

// Direct reads, bypassing the service.

func (e *env) loadRoom(t testing.TB, id string) *models.Room {
	t.Helper()
	r := new(models.Room)
	if err := e.db.NewSelect().Model(r).Where("id = ?", id).Scan(context.Background()); err != nil {
		t.Fatalf("load room %s: %v", id, err)
	}
	return r
}

func (e *env) loadSettings(t testing.TB, roomID string) *models.RoomSettings {
	t.Helper()
	s := new(models.RoomSettings)
	if err := e.db.NewSelect().Model(s).Where("room_id = ?", roomID).Scan(context.Background()); err != nil {
		t.Fatalf("load settings of %s: %v", roomID, err)
	}
	return s
}

func (e *env) loadParticipant(t testing.TB, id string) *models.Participant {
	t.Helper()
	p := new(models.Participant)
	if err := e.db.NewSelect().Model(p).Where("id = ?", id).Scan(context.Background()); err != nil {
		t.Fatalf("load participant %s: %v", id, err)
	}
	return p
}

func (e *env) loadParticipants(t testing.TB, roomID string) []*models.Participant {
	t.Helper()
	var ps []*models.Participant
	if err := e.db.NewSelect().Model(&ps).Where("room_id = ?", roomID).OrderExpr("joined_at, id").Scan(context.Background()); err != nil {
		t.Fatalf("load participants of %s: %v", roomID, err)
	}
	return ps
}

func (e *env) loadUserByEmail(t testing.TB, email string) (*models.User, bool) {
	t.Helper()
	u := new(models.User)
	err := e.db.NewSelect().Model(u).Where("email = ?", email).Scan(context.Background())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("load user %s: %v", email, err)
	}
	return u, true
}

// count runs a SELECT count(*) over table with an optional condition.
func (e *env) count(t testing.TB, table, where string, args ...any) int {
	t.Helper()
	q := "SELECT count(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	var n int
	if err := e.db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *env) activeParticipants(t testing.TB, roomID string) int {
	t.Helper()
	return e.count(t, "participants", "room_id = ? AND is_active = ?", roomID, true)
}

// unchanged fails the test when fn writes anything to the database.
func (e *env) unchanged(t testing.TB, fn func()) {
	t.Helper()
	before := map[string]string{}
	for _, table := range dbtest.Tables {
		before[table] = dbtest.DumpTables(t, e.db, table)
	}
	fn()
	changed := false
	for _, table := range dbtest.Tables {
		if after := dbtest.DumpTables(t, e.db, table); after != before[table] {
			t.Errorf("table %s changed:\nbefore: %s\nafter:  %s", table, before[table], after)
			changed = true
		}
	}
	if changed {
		t.FailNow()
	}
}

// wantErr asserts err is an *apperr.Error with code (and, when reason is
// not empty, that reason) and returns it.
func wantErr(t testing.TB, err error, code apperr.Code, reason apperr.Reason) *apperr.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("got internal error %v, want %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("got %s (%v), want %s", e.Code, err, code)
	}
	if reason != "" && e.Reason != reason {
		t.Fatalf("got reason %q (%v), want %q", e.Reason, err, reason)
	}
	return e
}

// wantInvalid asserts err is BAD_USER_INPUT naming field.
func wantInvalid(t testing.TB, err error, field string) *apperr.Error {
	t.Helper()
	e := wantErr(t, err, apperr.BadUserInput, "")
	if e.Field != field {
		t.Fatalf("BAD_USER_INPUT names field %q (%v), want %q", e.Field, err, field)
	}
	if e.Message == "" {
		t.Fatalf("BAD_USER_INPUT on %s has no message", field)
	}
	return e
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
