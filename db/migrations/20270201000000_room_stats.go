package migrations

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Rooms keep three statistics as columns, so that User.roomsConnection can
// order by them and filter on them through an index: peak_participants
// (the most people present at one instant), active_participants (who is
// present now) and last_activity_at (the latest of creation, a join, a
// leave, a settings change and the end). The service's writes keep them,
// in the same transaction and under the room row's lock, consistently with
// the function Room.stats computes (service.ComputeRoomStats); this migration
// fills them for the rows that exist, with SQL that computes the same
// (RoomStatsBackfill; TestRoomStatsBackfill_MatchesComputeRoomStats holds
// the two equal).
//
// An index per order of roomsConnection, each led by host_id (the list is
// always one host's) and ending in id (the tie-break, so each keyset is a
// total order). The existing (host_id, created_at DESC, id DESC) index
// serves CREATED_AT. On PostgreSQL names sort by code point (COLLATE "C"),
// as SQLite's BINARY does, so both dialects agree on one order and its
// index serves it.
func init() {
	Migrations.MustRegister(upRoomStats, downRoomStats)
}

// RoomStatsPeak is, for the room r, the most distinct people present at one instant: the
// maximum of a step function is reached where an interval starts, so it is
// enough to count, at each join, the people (a user once, each guest
// participant once) whose half-open presence [joined_at, left_at) covers
// it; an open presence lasts until the room's end, or for ever while it is
// active.
const RoomStatsPeak = `COALESCE((SELECT MAX((SELECT COUNT(DISTINCT COALESCE('u:' || p2.user_id, p2.id)) FROM participants AS p2
	WHERE p2.room_id = r.id AND p2.joined_at <= p1.joined_at
	AND (COALESCE(p2.left_at, r.ended_at) IS NULL OR p1.joined_at < COALESCE(p2.left_at, r.ended_at))))
	FROM participants AS p1 WHERE p1.room_id = r.id), 0)`

// RoomStatsActive is, for the room r, who is present now.
const RoomStatsActive = `(SELECT COUNT(*) FROM participants AS p WHERE p.room_id = r.id AND p.is_active)`

// RoomStatsBackfill sets every room's stored statistics from its rows.
var RoomStatsBackfill = map[dialect.Name]string{
	dialect.PG: `UPDATE rooms AS r SET peak_participants = ` + RoomStatsPeak + `,
		active_participants = ` + RoomStatsActive + `,
		last_activity_at = GREATEST(r.created_at, r.updated_at, r.ended_at,
			(SELECT MAX(GREATEST(p.joined_at, p.left_at)) FROM participants AS p WHERE p.room_id = r.id))`,
	// SQLite's scalar max() is NULL if any argument is; its timestamps are
	// bun's UTC text, which sorts chronologically.
	dialect.SQLite: `UPDATE rooms AS r SET peak_participants = ` + RoomStatsPeak + `,
		active_participants = ` + RoomStatsActive + `,
		last_activity_at = max(r.created_at, r.updated_at, COALESCE(r.ended_at, r.created_at),
			COALESCE((SELECT max(max(p.joined_at, COALESCE(p.left_at, p.joined_at))) FROM participants AS p WHERE p.room_id = r.id), r.created_at))`,
}

var roomStatsIndexes = []string{
	`CREATE INDEX rooms_host_started_idx ON rooms (host_id, started_at, id)`,
	`CREATE INDEX rooms_host_ended_idx ON rooms (host_id, ended_at, id)`,
	`CREATE INDEX rooms_host_activity_idx ON rooms (host_id, last_activity_at, id)`,
	`CREATE INDEX rooms_host_peak_idx ON rooms (host_id, peak_participants, id)`,
	// hasActiveParticipants: true, in the default order; few of a host's
	// rooms have people in them at once.
	`CREATE INDEX rooms_host_occupied_idx ON rooms (host_id, created_at DESC, id DESC) WHERE active_participants > 0`,
	// A join reads the presences still there at its instant (open, or
	// left after it; service.statsJoined), not the room's whole history.
	`CREATE INDEX participants_room_left_idx ON participants (room_id, left_at)`,
	// User.attended: a user's latest join per room, and their presences
	// in a page's rooms, from the index alone. (Its default order, by
	// that latest join, sorts the user's rooms: one row per room they
	// ever attended, not one per room of a host.)
	`CREATE INDEX participants_user_room_joined_idx ON participants (user_id, room_id, joined_at)`,
}

var roomStatsUp = map[dialect.Name][]string{
	dialect.PG: append([]string{
		`ALTER TABLE rooms ADD COLUMN peak_participants INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE rooms ADD COLUMN active_participants INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE rooms ADD COLUMN last_activity_at TIMESTAMPTZ`,
		RoomStatsBackfill[dialect.PG],
		`ALTER TABLE rooms ALTER COLUMN last_activity_at SET NOT NULL`,
		// A room inserted by plain SQL, without the column, was last
		// active when it was created (the service writes it itself).
		`CREATE FUNCTION rooms_last_activity_default() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			NEW.last_activity_at := COALESCE(NEW.last_activity_at, NEW.created_at);
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER rooms_last_activity_default BEFORE INSERT ON rooms
		FOR EACH ROW EXECUTE FUNCTION rooms_last_activity_default()`,
		`CREATE INDEX rooms_host_name_idx ON rooms (host_id, name COLLATE "C", id)`,
	}, roomStatsIndexes...),
	// SQLite cannot add a NOT NULL column without a constant default; the
	// service writes last_activity_at with every room it creates.
	dialect.SQLite: append([]string{
		`ALTER TABLE rooms ADD COLUMN peak_participants INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE rooms ADD COLUMN active_participants INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE rooms ADD COLUMN last_activity_at TIMESTAMPTZ`,
		RoomStatsBackfill[dialect.SQLite],
		`CREATE TRIGGER rooms_last_activity_default AFTER INSERT ON rooms WHEN NEW.last_activity_at IS NULL BEGIN
			UPDATE rooms SET last_activity_at = NEW.created_at WHERE id = NEW.id;
		END`,
		`CREATE INDEX rooms_host_name_idx ON rooms (host_id, name, id)`,
	}, roomStatsIndexes...),
}

var roomStatsDown = map[dialect.Name][]string{
	dialect.PG: append([]string{
		`DROP TRIGGER rooms_last_activity_default ON rooms`,
		`DROP FUNCTION rooms_last_activity_default()`,
	}, roomStatsDrops...),
	dialect.SQLite: append([]string{`DROP TRIGGER rooms_last_activity_default`}, roomStatsDrops...),
}

var roomStatsDrops = []string{
	`DROP INDEX participants_room_left_idx`,
	`DROP INDEX participants_user_room_joined_idx`,
	`DROP INDEX rooms_host_occupied_idx`,
	`DROP INDEX rooms_host_peak_idx`,
	`DROP INDEX rooms_host_activity_idx`,
	`DROP INDEX rooms_host_ended_idx`,
	`DROP INDEX rooms_host_started_idx`,
	`DROP INDEX rooms_host_name_idx`,
	`ALTER TABLE rooms DROP COLUMN last_activity_at`,
	`ALTER TABLE rooms DROP COLUMN active_participants`,
	`ALTER TABLE rooms DROP COLUMN peak_participants`,
}

func upRoomStats(ctx context.Context, db *bun.DB) error {
	return runForDialect(ctx, db, roomStatsUp)
}

func downRoomStats(ctx context.Context, db *bun.DB) error {
	return runForDialect(ctx, db, roomStatsDown)
}
