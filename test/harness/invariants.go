package harness

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/migrations"
)

// invariants are the rules the product promises whatever happened, each a
// query for the rows that break it.
var invariants = map[string]string{
	"rooms over capacity": `SELECT r.id FROM rooms r JOIN room_settings s ON s.room_id = r.id
		WHERE (SELECT count(*) FROM participants p WHERE p.room_id = r.id AND p.is_active) > s.max_participants`,
	"ended rooms with active participants": `SELECT DISTINCT r.id FROM rooms r JOIN participants p ON p.room_id = r.id
		WHERE NOT r.is_active AND p.is_active`,
	"joins after the end": `SELECT p.id FROM rooms r JOIN participants p ON p.room_id = r.id
		WHERE r.ended_at IS NOT NULL AND p.joined_at > r.ended_at`,
	"ended rooms without endedAt": `SELECT id FROM rooms WHERE NOT is_active AND ended_at IS NULL`,
	"rooms without settings":      `SELECT r.id FROM rooms r WHERE NOT EXISTS (SELECT 1 FROM room_settings s WHERE s.room_id = r.id)`,
	"active participants that left or inactive ones that did not": `SELECT id FROM participants
		WHERE is_active = (left_at IS NOT NULL)`,
	// The columns roomsConnection orders and filters by are what the rows
	// say, however writes raced (the service keeps them, see
	// service.ComputeRoomStats; the migration's SQL computes the same).
	"stored peak or active count that the rows do not give": `SELECT r.id FROM rooms r
		WHERE r.peak_participants <> ` + migrations.RoomStatsPeak + ` OR r.active_participants <> ` + migrations.RoomStatsActive,
}

// CheckInvariants fails the test if the data breaks a rule the product
// promises whatever happened: a room never holds more active participants
// than its capacity, an ended room holds none and nobody joined it after
// it ended, every room has its settings, a participant is active
// exactly when it has not left, and a room's stored peak and active count
// are what its participants give. The concurrency runners (Concurrently,
// StartLoad) check it after every run.
func CheckInvariants(t testing.TB, bdb *bun.DB) {
	t.Helper()
	for name, q := range invariants {
		var ids []string
		if err := bdb.NewRaw(q).Scan(context.Background(), &ids); err != nil {
			t.Fatalf("invariant %q: %v", name, err)
		}
		if len(ids) > 0 {
			t.Errorf("invariant broken: %s: %v", name, ids)
		}
	}
}
