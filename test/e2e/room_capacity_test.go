package e2e

// A room's capacity and who is in it: the host may lower maxParticipants to
// the number of people present, never below, over GraphQL and REST alike,
// and lowering it while people join never leaves a room over capacity.

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/test/harness"
)

// 5 present, lowered to 2: refused on every edge, and nothing changes.
func TestRoomCapacity_CannotBeLoweredBelowWhoIsPresent(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		token := srv.Register("host@example.com", "Host").Token
		host := srv.WithToken(token)
		room := host.CreateRoom(map[string]any{"maxParticipants": 10})
		for i := range 5 {
			_, res := srv.Join(room.Code, new(fmt.Sprintf("Guest %d", i)))
			harness.MustSucceed(t, "a guest joins", res)
		}
		before := snapshot(t, srv, token)
		const message = "maxParticipants must not be below the 5 participants in the room"

		res := host.UpdateSettings(room.ID, map[string]any{"maxParticipants": 2, "allowChat": false})
		e := expectError(t, "GraphQL: lowered to 2", res, string(apperr.BadUserInput), "maxParticipants")
		if e.Extensions["reason"] != string(apperr.BelowActiveParticipants) || e.Message != message {
			t.Errorf("GraphQL refusal: %q, reason %v", e.Message, e.Extensions["reason"])
		}
		before = expectUnchanged(t, srv, "GraphQL: lowered to 2", before, token)

		for _, prefix := range restPrefixes {
			what := "PATCH " + prefix + "/rooms/:id/settings to 4"
			r := host.REST(http.MethodPatch, prefix+"/rooms/"+room.ID+"/settings", map[string]any{"maxParticipants": 4, "name": "Renamed"})
			if r.Status != http.StatusBadRequest || string(r.Body) != legacyInvalid(message) {
				t.Errorf("%s: HTTP %d %s, want 400 %s", what, r.Status, r.Body, legacyInvalid(message))
			}
			before = expectUnchanged(t, srv, what, before, token)
		}

		// Exactly who is present is accepted, over both edges.
		harness.MustSucceed(t, "lowered to 5", host.UpdateSettings(room.ID, map[string]any{"maxParticipants": 5}))
		r := host.REST(http.MethodPatch, "/rooms/"+room.ID+"/settings", map[string]any{"maxParticipants": 5})
		if r.Status != http.StatusOK {
			t.Errorf("PATCH to 5 with 5 present: HTTP %d %s", r.Status, r.Body)
		}
		if _, res := srv.Join(room.Code, new("One too many")); res.Outcome() != "CONFLICT/ROOM_FULL" {
			t.Errorf("a sixth join into a room of 5: %s", res.Outcome())
		}
	})
}

// Lowering the cap over GraphQL or REST while guests rush in: the harness
// checks after every round that no room holds more active participants than
// its maxParticipants, and each round's answers agree with what is stored.
func TestRoomCapacity_LoweringRacingJoinsNeverOverfillsTheRoom(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
		const joiners, present, capacity = 20, 3, 20
		for round, lowered := range []int{5, 9, 13, 17} {
			room := host.CreateRoom(map[string]any{"maxParticipants": capacity})
			for i := range present {
				_, res := srv.Join(room.Code, new(fmt.Sprintf("Early %d", i)))
				harness.MustSucceed(t, "an early guest joins", res)
			}
			const lowerer = joiners / 2
			tally := srv.Concurrently(joiners+1, func(i int) string {
				if i != lowerer {
					return srv.GQL(joinGuest, map[string]any{"c": room.Code, "g": fmt.Sprintf("Guest %d", i)}).Outcome()
				}
				if round%2 == 0 {
					return "lower " + host.UpdateSettings(room.ID, map[string]any{"maxParticipants": lowered}).Outcome()
				}
				r := host.REST(http.MethodPatch, "/rooms/"+room.ID+"/settings", map[string]any{"maxParticipants": lowered})
				return fmt.Sprintf("lower HTTP %d", r.Status)
			})
			var stored struct {
				Max    int `bun:"max_participants"`
				Active int `bun:"active"`
			}
			if err := srv.DB().NewRaw(`SELECT s.max_participants, (SELECT count(*) FROM participants AS p WHERE p.room_id = s.room_id AND p.is_active) AS active
				FROM room_settings AS s WHERE s.room_id = ?`, room.ID).Scan(t.Context(), &stored); err != nil {
				t.Fatal(err)
			}
			if stored.Active != present+tally["ok"] || tally["ok"]+tally["CONFLICT/ROOM_FULL"] != joiners {
				t.Errorf("round %d: %v, yet %d participants are active", round, tally, stored.Active)
			}
			lowerOK := tally["lower ok"]+tally["lower HTTP 200"] == 1
			refused := tally["lower BAD_USER_INPUT/BELOW_ACTIVE_PARTICIPANTS"]+tally["lower HTTP 400"] == 1
			switch {
			case lowerOK && stored.Max != lowered, refused && stored.Max != capacity, !lowerOK && !refused:
				t.Errorf("round %d (lowering to %d): %v, and maxParticipants is %d", round, lowered, tally, stored.Max)
			}
			t.Logf("round %d, lowering to %d: %v", round, lowered, tally)
		}
	})
}
