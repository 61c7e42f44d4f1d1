package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/models"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// twoInstances returns two brokers over two connection pools to one fresh
// database, as two server instances have, and an admin connection to it.
func twoInstances(t *testing.T) (a, b *Postgres, admin *bun.DB) {
	t.Helper()
	url := dbtest.NewPostgresDatabase(t)
	open := func() *bun.DB {
		bdb, err := db.Open(context.Background(), db.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bdb.Close() })
		return bdb
	}
	dbA, dbB, admin := open(), open(), open()
	a = NewPostgres(dbA, PoolConnector(dbA.DB), quiet, Options{})
	b = NewPostgres(dbB, PoolConnector(dbB.DB), quiet, Options{})
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return a, b, admin
}

func TestPostgres_EventsReachSubscribersOnEveryInstanceInOrder(t *testing.T) {
	a, b, _ := twoInstances(t)
	ctx := context.Background()
	onB, err := b.Subscribe(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	onA, err := a.Subscribe(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := a.Publish(ctx, ev("r", SettingsChanged, i)); err != nil {
			t.Fatal(err)
		}
	}
	_ = b.Publish(ctx, ev("other-room", RoomLocked, 0))
	_ = b.Publish(ctx, ev("r", RoomLocked, 50), ev("r", RoomUnlocked, 51))
	for _, s := range []*Subscription{onA, onB} { // the publisher's own instance hears it too
		for i := range 52 {
			e := next(t, s)
			if *e.RoomName != fmt.Sprint(i) || e.RoomID != "r" {
				t.Fatalf("event %d: got room %s #%s", i, e.RoomID, *e.RoomName)
			}
		}
	}
}

func TestPostgres_ReconnectsAfterTheListenConnectionIsTerminated(t *testing.T) {
	a, b, admin := twoInstances(t)
	ctx := context.Background()
	before, err := b.Subscribe(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	feed, err := b.SubscribeHost(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	var killed int
	if err := admin.NewRaw("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?",
		ApplicationName).Scan(ctx, &killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d LISTEN connections, want 1", killed)
	}
	// Events published while it was down are lost to this subscription,
	// so it ends saying so rather than going quiet.
	for _, s := range []*Subscription{before, feed} {
		if err := ended(t, s); !errors.Is(err, ErrInterrupted) {
			t.Fatalf("subscription ended with %v, want ErrInterrupted", err)
		}
	}
	after, err := b.Subscribe(ctx, "r", nil) // waits for the new LISTEN
	if err != nil {
		t.Fatal(err)
	}
	feedAfter, err := b.SubscribeHost(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, hostEv("h", "r", RoomLocked, 1)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Subscription{after, feedAfter} {
		if e := next(t, s); e.Type != RoomLocked {
			t.Fatalf("got %s after reconnecting", e.Type)
		}
	}
}

func TestPostgres_SubscribeFailsWhileEventsCannotBeReceived(t *testing.T) {
	old := readyTimeout
	readyTimeout = 200 * time.Millisecond
	t.Cleanup(func() { readyTimeout = old })
	down := func(context.Context) (*pgx.Conn, error) { return nil, errors.New("connection refused") }
	b := NewPostgres(nil, down, quiet, Options{})
	defer b.Close()
	if _, err := b.Subscribe(context.Background(), "r", nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Subscribe with the database down: %v, want ErrUnavailable", err)
	}
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("Subscribers = %d", n)
	}
}

// A chat message of 2,000 four-byte characters is more than one NOTIFY
// holds: it travels in parts and arrives whole, in order with the events
// around it, on every instance.
func TestPostgres_CarriesAPayloadOverOneNotificationInParts(t *testing.T) {
	a, b, _ := twoInstances(t)
	ctx := context.Background()
	onB, err := b.Subscribe(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	content := strings.Repeat("😀", 2000) + "é"
	msg := &models.Message{ID: "m", RoomID: "r", Content: &content, Type: models.MessageText}
	_ = a.Publish(ctx, ev("r", RoomLocked, 0))
	if err := a.Publish(ctx, &Event{RoomID: "r", Type: MessageSent, Message: msg}, ev("r", RoomUnlocked, 1)); err != nil {
		t.Fatal(err)
	}
	_ = a.Publish(ctx, ev("r", SettingsChanged, 2))
	for _, want := range []Type{RoomLocked, MessageSent, RoomUnlocked, SettingsChanged} {
		e := next(t, onB)
		if e.Type != want {
			t.Fatalf("got %s, want %s", e.Type, want)
		}
		if e.Type == MessageSent && (e.Message == nil || *e.Message.Content != content) {
			t.Fatal("the message arrived altered")
		}
	}
}

func TestPostgres_RefusesAPayloadNotifyCannotCarry(t *testing.T) {
	a, _, _ := twoInstances(t)
	ctx := context.Background()
	s, err := a.Subscribe(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("x", maxParts*maxPayload)
	if err := a.Publish(ctx, &Event{RoomID: "r", Type: SettingsChanged, RoomName: &huge}); err == nil {
		t.Fatal("published a payload of more parts than allowed")
	}
	_ = a.Publish(ctx, ev("r", RoomLocked, 1))
	if e := next(t, s); e.Type != RoomLocked {
		t.Fatalf("got %s, want the next event only", e.Type)
	}
}

func TestAssembler_DropsPartsOutOfTurn(t *testing.T) {
	var a assembler
	if _, ok := a.add(1, "part:x:1:2:tail"); ok {
		t.Fatal("a second part without its first was taken")
	}
	if _, ok := a.add(1, "part:y:0:2:he"); ok {
		t.Fatal("an incomplete payload was delivered")
	}
	if _, ok := a.add(2, "[]"); !ok {
		t.Fatal("another sender's whole payload waited")
	}
	if got, ok := a.add(1, "part:y:1:2:llo"); !ok || got != "hello" {
		t.Fatalf("got %q, %v", got, ok)
	}
}

func TestPostgres_CloseEndsSubscriptionsAndTheListenConnection(t *testing.T) {
	a, _, admin := twoInstances(t)
	ctx := context.Background()
	s, err := a.Subscribe(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Close()
	if err := ended(t, s); !errors.Is(err, ErrClosed) {
		t.Fatalf("ended with %v, want ErrClosed", err)
	}
	// The backend exits just after the connection closes: allow it a moment.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var listening int
		if err := admin.NewRaw("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?",
			ApplicationName).Scan(ctx, &listening); err != nil {
			t.Fatal(err)
		}
		if listening == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d LISTEN connections still open 5s after Close", listening)
		}
	}
	if _, err := a.Subscribe(ctx, "r", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
}

// A quiet LISTEN connection is pinged rather than waited on for ever, and
// the pings leave it working: no reconnection, no interrupted subscriber.
func TestPostgres_QuietConnectionSurvivesItsHealthChecks(t *testing.T) {
	old := healthCheck
	healthCheck = 30 * time.Millisecond
	t.Cleanup(func() { healthCheck = old })
	a, b, admin := twoInstances(t)
	ctx := context.Background()
	s, err := b.Subscribe(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := admin.NewRaw("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?",
		ApplicationName).Scan(ctx, &pid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // about ten health checks
	_ = a.Publish(ctx, ev("r", RoomLocked, 1))
	if e := next(t, s); e.Type != RoomLocked {
		t.Fatalf("got %s", e.Type)
	}
	var still int
	if err := admin.NewRaw("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?",
		ApplicationName).Scan(ctx, &still); err != nil {
		t.Fatal(err)
	}
	if still != pid {
		t.Fatalf("LISTEN backend %d replaced by %d: the health checks broke the connection", pid, still)
	}
}

// A host's feed on one instance hears what another publishes about any of
// the host's rooms, the host id travelling in the notification, with the
// count of who is present.
func TestPostgres_HostFeedHearsEveryInstance(t *testing.T) {
	a, b, _ := twoInstances(t)
	ctx := context.Background()
	feed, err := b.SubscribeHost(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	two := 2
	joined := hostEv("h", "r2", ParticipantJoined, 1)
	joined.ActiveParticipants = &two
	_ = a.Publish(ctx, hostEv("h", "r1", RoomCreated, 0))
	_ = a.Publish(ctx, hostEv("other", "r3", RoomLocked, 9))
	_ = a.Publish(ctx, joined)
	if e := next(t, feed); e.RoomID != "r1" || e.Type != RoomCreated || e.HostID != "h" {
		t.Fatalf("first event %+v", e)
	}
	if e := next(t, feed); e.RoomID != "r2" || e.ActiveParticipants == nil || *e.ActiveParticipants != 2 {
		t.Fatalf("second event %+v", e)
	}
}

// Published within transactions, events arrive in the order the
// transactions commit, whatever order their NOTIFYs ran in, and a rolled
// back transaction's never arrive.
func TestPostgres_PublishTxDeliversInCommitOrder(t *testing.T) {
	a, b, admin := twoInstances(t)
	ctx := context.Background()
	s, err := b.Subscribe(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	begin := func() bun.Tx {
		tx, err := admin.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	first, second, undone := begin(), begin(), begin()
	for i, tx := range []bun.Tx{first, second, undone} {
		if err := a.PublishTx(ctx, tx, ev("r", SettingsChanged, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := undone.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := second.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	_ = a.Publish(ctx, ev("r", RoomLocked, 3))
	for _, want := range []string{"1", "0", "3"} {
		if got := *next(t, s).RoomName; got != want {
			t.Fatalf("got event %s, want %s (commit order; the rolled back 2 never)", got, want)
		}
	}
}
