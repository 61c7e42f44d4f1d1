-- Benchmark dataset, generated in PostgreSQL itself (seconds, not hours):
--   10,000 users; 100,000 rooms spread over them, each with 0-10 participants;
-- Ids are cuid-shaped (25 chars, leading c) but deterministic, so runs are comparable.
-- Expects an empty, migrated database.
BEGIN;
-- Generated rows need no answers versions (db/migrations' triggers would
-- update a user row per participant inserted): replica mode skips the
-- triggers for this transaction. Every version stays 0, a valid one.
SET LOCAL session_replication_role = replica;

INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at)
SELECT 'cu' || lpad(to_hex(g), 23, '0'),
       'user' || g || '@bench.neuronmeet.dev',
       '$2a$10$benchbenchbenchbenchbOu1VZjyYmZ8bk1Cq8Ipp0iF0E8gUO3yS',
       'User ' || g,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 10000) AS g;

-- last_activity_at is written here: replica mode also skips the trigger
-- that gives a plain-SQL room its creation time there (the statistics
-- columns keep their defaults; no benchmarked load selects them).
INSERT INTO rooms (id, code, name, host_id, is_active, is_locked, started_at, ended_at, created_at, updated_at, last_activity_at)
SELECT 'cr' || lpad(to_hex(g), 23, '0'),
       -- 9 letters from g in base 26: unique for g < 26^9.
       chr(97 + (g / 17576 / 676 / 26) % 26) || chr(97 + (g / 17576 / 676) % 26) || chr(97 + (g / 17576 / 26) % 26) || '-' ||
       chr(97 + (g / 17576) % 26) || chr(97 + (g / 676) % 26) || chr(97 + (g / 26) % 26) || '-' ||
       chr(97 + (g / 7) % 26) || chr(97 + g % 26) || chr(97 + (g / 456976) % 26),
       'Room ' || g,
       'cu' || lpad(to_hex(1 + g % 10000), 23, '0'),
       g % 3 <> 0,
       g % 11 = 0,
       timestamptz '2024-02-01 00:00:00+00' + g * interval '10 seconds',
       CASE WHEN g % 3 = 0 THEN timestamptz '2024-02-01 01:00:00+00' + g * interval '10 seconds' END,
       timestamptz '2024-02-01 00:00:00+00' + g * interval '10 seconds',
       timestamptz '2024-02-01 00:00:00+00' + g * interval '10 seconds',
       timestamptz '2024-02-01 00:00:00+00' + g * interval '10 seconds'
FROM generate_series(1, 100000) AS g;

INSERT INTO room_settings (id, room_id, allow_chat, allow_screen_share, allow_guest_access, waiting_room, mute_participants_on_join, max_participants)
SELECT 'cs' || lpad(to_hex(g), 23, '0'), 'cr' || lpad(to_hex(g), 23, '0'),
       TRUE, g % 2 = 0, g % 5 <> 0, g % 7 = 0, g % 4 = 0, 50
FROM generate_series(1, 100000) AS g;

-- 0-10 participants per room (g * 7 mod 11), users and guests alternating.
INSERT INTO participants (id, room_id, user_id, guest_name, is_active, is_host, joined_at, left_at)
SELECT 'cp' || lpad(to_hex(g * 16 + k), 23, '0'),
       'cr' || lpad(to_hex(g), 23, '0'),
       CASE WHEN k % 2 = 0 THEN 'cu' || lpad(to_hex(1 + (g * 13 + k) % 10000), 23, '0') END,
       CASE WHEN k % 2 = 1 THEN 'Guest ' || k END,
       g % 3 <> 0 AND k % 4 <> 3,
       FALSE,
       timestamptz '2024-02-01 00:00:00+00' + g * interval '10 seconds' + k * interval '1 second',
       CASE WHEN g % 3 = 0 OR k % 4 = 3 THEN timestamptz '2024-02-01 00:30:00+00' + g * interval '10 seconds' END
FROM generate_series(1, 100000) AS g
CROSS JOIN LATERAL generate_series(0, (g * 7) % 11 - 1) AS k;

COMMIT;
ANALYZE;
