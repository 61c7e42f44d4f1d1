package migrations

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Every user gets an answers version: a value that changes, in the same
// transaction, with every write that can change what the user's own reads
// show (me { … } and GET /users/me/rooms): their rooms, those rooms'
// settings and participants, their own profile, and the profile of anyone
// who took part in their rooms. The response cache (internal/respcache)
// serves an answer only while the version it was made at is current.
//
// Triggers make the rule hold for every writer, this server's instances
// and plain SQL alike. The two dialects' trigger languages differ, so this
// migration is Go, with a statement list for each.
//
// A new version is random rather than the old one plus one: a database
// restored from a backup would count the same numbers again over
// different data, and a cache that had seen them would serve its stale
// answers as current. A repeat of a random 63-bit value is not a risk worth
// naming. 0, the column's default, means "no write since this migration".
func init() {
	Migrations.MustRegister(upAnswersVersion, downAnswersVersion)
}

var answersVersionUp = map[dialect.Name][]string{
	dialect.PG: {
		`ALTER TABLE users ADD COLUMN answers_version BIGINT NOT NULL DEFAULT 0`,
		`CREATE FUNCTION next_answers_version() RETURNS BIGINT LANGUAGE sql VOLATILE AS
		$$ SELECT floor(random() * 9.2e18)::bigint $$`,
		// A room's own columns show in its host's list; a room that moves
		// to another host (plain SQL) changes both lists.
		`CREATE FUNCTION rooms_answers_version() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_OP IN ('UPDATE', 'DELETE') THEN
				UPDATE users SET answers_version = next_answers_version() WHERE id = OLD.host_id;
			END IF;
			IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.host_id IS DISTINCT FROM OLD.host_id) THEN
				UPDATE users SET answers_version = next_answers_version() WHERE id = NEW.host_id;
			END IF;
			RETURN NULL;
		END $$`,
		`CREATE TRIGGER rooms_answers_version AFTER INSERT OR UPDATE OR DELETE ON rooms
		FOR EACH ROW EXECUTE FUNCTION rooms_answers_version()`,
		// Settings and participants show under their room, in its host's
		// answers.
		`CREATE FUNCTION room_rows_answers_version() RETURNS trigger LANGUAGE plpgsql AS $$
		DECLARE
			room_ids text[];
		BEGIN
			IF TG_OP = 'INSERT' THEN
				room_ids := ARRAY[NEW.room_id];
			ELSIF TG_OP = 'DELETE' THEN
				room_ids := ARRAY[OLD.room_id];
			ELSE
				room_ids := ARRAY[OLD.room_id, NEW.room_id];
			END IF;
			UPDATE users SET answers_version = next_answers_version()
			WHERE id IN (SELECT host_id FROM rooms WHERE id = ANY (room_ids));
			RETURN NULL;
		END $$`,
		`CREATE TRIGGER room_settings_answers_version AFTER INSERT OR UPDATE OR DELETE ON room_settings
		FOR EACH ROW EXECUTE FUNCTION room_rows_answers_version()`,
		`CREATE TRIGGER participants_answers_version AFTER INSERT OR UPDATE OR DELETE ON participants
		FOR EACH ROW EXECUTE FUNCTION room_rows_answers_version()`,
		// A profile shows in the user's own answers and, as a participant's
		// user, in the answers of every host whose rooms they took part in.
		// Only the shown columns count (not the password or updated_at), so
		// the bump's own UPDATE does not fire it again.
		`CREATE FUNCTION users_answers_version() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			UPDATE users SET answers_version = next_answers_version()
			WHERE id = NEW.id OR id IN (
				SELECT r.host_id FROM participants AS p JOIN rooms AS r ON r.id = p.room_id WHERE p.user_id = NEW.id);
			RETURN NULL;
		END $$`,
		`CREATE TRIGGER users_answers_version AFTER UPDATE OF email, name, display_name, avatar_url, created_at ON users
		FOR EACH ROW
		WHEN ((OLD.email, OLD.name, OLD.display_name, OLD.avatar_url, OLD.created_at)
			IS DISTINCT FROM (NEW.email, NEW.name, NEW.display_name, NEW.avatar_url, NEW.created_at))
		EXECUTE FUNCTION users_answers_version()`,
	},
	// SQLite has row triggers only, one event each, and random() gives a
	// 64-bit integer. Triggers do not fire each other here (SQLite's
	// recursive_triggers is off), as the column list ensures on PostgreSQL.
	dialect.SQLite: {
		`ALTER TABLE users ADD COLUMN answers_version INTEGER NOT NULL DEFAULT 0`,
		`CREATE TRIGGER rooms_answers_version_insert AFTER INSERT ON rooms BEGIN
			UPDATE users SET answers_version = random() WHERE id = NEW.host_id;
		END`,
		`CREATE TRIGGER rooms_answers_version_update AFTER UPDATE ON rooms BEGIN
			UPDATE users SET answers_version = random() WHERE id IN (OLD.host_id, NEW.host_id);
		END`,
		`CREATE TRIGGER rooms_answers_version_delete AFTER DELETE ON rooms BEGIN
			UPDATE users SET answers_version = random() WHERE id = OLD.host_id;
		END`,
		roomRowsTriggerSQLite("room_settings", "insert", "NEW.room_id"),
		roomRowsTriggerSQLite("room_settings", "update", "OLD.room_id, NEW.room_id"),
		roomRowsTriggerSQLite("room_settings", "delete", "OLD.room_id"),
		roomRowsTriggerSQLite("participants", "insert", "NEW.room_id"),
		roomRowsTriggerSQLite("participants", "update", "OLD.room_id, NEW.room_id"),
		roomRowsTriggerSQLite("participants", "delete", "OLD.room_id"),
		`CREATE TRIGGER users_answers_version AFTER UPDATE OF email, name, display_name, avatar_url, created_at ON users BEGIN
			UPDATE users SET answers_version = random()
			WHERE id = NEW.id OR id IN (
				SELECT r.host_id FROM participants AS p JOIN rooms AS r ON r.id = p.room_id WHERE p.user_id = NEW.id);
		END`,
	},
}

func roomRowsTriggerSQLite(table, event, roomIDs string) string {
	return fmt.Sprintf(`CREATE TRIGGER %[1]s_answers_version_%[2]s AFTER %[2]s ON %[1]s BEGIN
			UPDATE users SET answers_version = random() WHERE id IN (SELECT host_id FROM rooms WHERE id IN (%[3]s));
		END`, table, event, roomIDs)
}

var answersVersionDown = map[dialect.Name][]string{
	dialect.PG: {
		`DROP TRIGGER users_answers_version ON users`,
		`DROP TRIGGER participants_answers_version ON participants`,
		`DROP TRIGGER room_settings_answers_version ON room_settings`,
		`DROP TRIGGER rooms_answers_version ON rooms`,
		`DROP FUNCTION users_answers_version()`,
		`DROP FUNCTION room_rows_answers_version()`,
		`DROP FUNCTION rooms_answers_version()`,
		`DROP FUNCTION next_answers_version()`,
		`ALTER TABLE users DROP COLUMN answers_version`,
	},
	dialect.SQLite: {
		`DROP TRIGGER users_answers_version`,
		`DROP TRIGGER participants_answers_version_delete`,
		`DROP TRIGGER participants_answers_version_update`,
		`DROP TRIGGER participants_answers_version_insert`,
		`DROP TRIGGER room_settings_answers_version_delete`,
		`DROP TRIGGER room_settings_answers_version_update`,
		`DROP TRIGGER room_settings_answers_version_insert`,
		`DROP TRIGGER rooms_answers_version_delete`,
		`DROP TRIGGER rooms_answers_version_update`,
		`DROP TRIGGER rooms_answers_version_insert`,
		`ALTER TABLE users DROP COLUMN answers_version`,
	},
}

func upAnswersVersion(ctx context.Context, db *bun.DB) error {
	return runForDialect(ctx, db, answersVersionUp)
}

func downAnswersVersion(ctx context.Context, db *bun.DB) error {
	return runForDialect(ctx, db, answersVersionDown)
}

// runForDialect runs the database's dialect's statements in one
// transaction (both dialects' DDL is transactional).
func runForDialect(ctx context.Context, db *bun.DB, statements map[dialect.Name][]string) error {
	name := db.Dialect().Name()
	list, ok := statements[name]
	if !ok {
		return fmt.Errorf("no statements for dialect %s", name)
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range list {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%.60s…: %w", q, err)
			}
		}
		return nil
	})
}
